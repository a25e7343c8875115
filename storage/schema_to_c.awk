# storage/schema_to_c.awk -- schema.sql as a C string, store__schema_sql.
#
# Run by the genrule in storage/BUILD, so the library always embeds exactly
# the documented schema. Each line becomes one string literal; backslashes,
# double quotes and question marks (trigraphs) are escaped.
BEGIN {
    print "/* Generated from storage/schema.sql by storage/schema_to_c.awk. */"
    print "#include \"storage/store_int.h\""
    print ""
    print "const char store__schema_sql[] ="
}
{
    line = ""
    n = length($0)
    for (i = 1; i <= n; i++) {
        c = substr($0, i, 1)
        if (c == "\\" || c == "\"" || c == "?")
            line = line "\\" c
        else
            line = line c
    }
    printf "    \"%s\\n\"\n", line
}
END {
    print "    ;"
}
