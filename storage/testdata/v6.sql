-- storage/testdata/v6.sql -- a heapsim database of schema version 6, as
-- text: version 5's fixture (v5.sql) opened by the heapsim build whose
-- schema was version 6 (it migrated the file: the runs' liveness mark),
-- dumped with the sqlite3 shell. store_test builds a file from it and
-- checks that store_open() migrates it to the current version.
-- Never edit it: it is what files written by heapsim at version 6 look like.
PRAGMA user_version = 6;
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE runs (
    id              INTEGER PRIMARY KEY,  -- run id, shown by `heapsim runs`
    token           TEXT NOT NULL UNIQUE, -- unique id of the run, names its heaps
    name            TEXT,                 -- scenario name
    scenario_path   TEXT,                 -- scenario file as given on the command line
    scenario_text   TEXT,                 -- scenario file contents at the time of the run
    settings_json   TEXT,                 -- scenario-level runtime settings and overrides (JSON)
    command_line    TEXT,                 -- the heapsim command line that started the run
    host            TEXT,                 -- host name of the coordinator
    workers         INTEGER,              -- planned local workers, 0 if remote only
    status          TEXT NOT NULL,        -- 'running', 'done', 'failed' or 'interrupted'
    started_unix_ns INTEGER,              -- when the run started
    ended_unix_ns   INTEGER,              -- when the run ended; NULL while running
    error           TEXT                  -- why the run failed or stopped; NULL if done
, owner_host TEXT, owner_boot TEXT, owner_pid INTEGER, owner_started INTEGER, heartbeat_unix_ns INTEGER);
INSERT INTO runs VALUES(1,'dbe775dbad66f4f5','gogc-sweep','sweep.yaml','name: gogc-sweep','{"runtime":{"gogc":100,"memory_limit":0,"heap_max":0,"stack_reserve":0},"sets":[],"repeat":3,"seed":1,"sample_interval_ns":100000000}','heapsim run sweep.yaml','fixture',2,'done',1796061097588969092,1796061097942129770,NULL,NULL,NULL,NULL,NULL,NULL);
CREATE TABLE workers (
    id             INTEGER PRIMARY KEY,   -- worker row id
    run_id         INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,  -- the run joined
    name           TEXT NOT NULL,         -- unique in the run, e.g. 'host:pid'
    host           TEXT,                  -- host name of the worker
    pid            INTEGER,               -- process id on that host
    ncpu           INTEGER,               -- CPUs the worker saw
    joined_unix_ns INTEGER,               -- when the worker said hello
    UNIQUE (run_id, name)
);
INSERT INTO workers VALUES(1,1,'local-0','fixture',5698,2,1796061097610811853);
INSERT INTO workers VALUES(2,1,'local-1','fixture',5700,2,1796061097615547922);
CREATE TABLE tasks (
    id              INTEGER PRIMARY KEY,  -- task id
    run_id          INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,  -- the run it belongs to
    seq             INTEGER NOT NULL,     -- position in the run's plan, from 0
    kernel          TEXT NOT NULL,        -- kernel name, as in the catalog
    params_json     TEXT,                 -- kernel parameters (JSON object)
    runtime_json    TEXT,                 -- runtime settings for this task (JSON)
    label           TEXT,                 -- label given by the scenario, may be NULL
    sweep_point     INTEGER,              -- index of the sweep point, from 0
    repeat_index    INTEGER,              -- index of the repeat at that point, from 0
    seed            INTEGER,              -- random seed (the uint64 stored as signed 64-bit)
    status          TEXT NOT NULL,        -- 'pending', 'running', 'done' or 'failed'
    worker          TEXT,                 -- name of the worker that ran it (workers.name)
    host            TEXT,                 -- host of that worker
    started_unix_ns INTEGER,              -- when the worker started it
    ended_unix_ns   INTEGER,              -- when it finished
    error           TEXT,                 -- why it failed; NULL if done
    output          TEXT,                 -- the kernel's output text
    wall_ns         INTEGER,              -- wall time of the kernel
    alloc_objects   INTEGER,              -- objects allocated
    alloc_bytes     INTEGER,              -- bytes allocated
    gc_cycles       INTEGER,              -- collections during the task
    pause_max_ns    INTEGER,              -- longest stop-the-world pause
    pause_total_ns  INTEGER,              -- sum of the pauses
    peak_heap_bytes INTEGER,              -- heap in use, highest seen
    peak_rss_bytes  INTEGER,              -- resident set size of the worker, highest seen
    stack_hwm_bytes INTEGER,              -- goroutine stacks, high-water mark
    goroutines_max  INTEGER,              -- most goroutines alive at once
    UNIQUE (run_id, seq)
);
INSERT INTO tasks VALUES(1,1,0,'churn','{"objects":300000,"live_objects":10000,"min_bytes":16,"max_bytes":512,"goroutines":1}','{"gogc":50,"memory_limit":0,"heap_max":0,"stack_reserve":0}','gogc=50',0,0,-7995527694508729151,'done','local-0','fixture',1796061097610966121,1796061097723847030,NULL,replace('churn: 300000 objects, 79221096 bytes requested, 10000 live at once, 1 goroutines\n','\n',char(10)),112248899,300001,85417232,65,3089736,39696547,8798208,16699392,4096,2);
INSERT INTO tasks VALUES(2,1,1,'churn','{"objects":300000,"live_objects":10000,"min_bytes":16,"max_bytes":512,"goroutines":1}','{"gogc":50,"memory_limit":0,"heap_max":0,"stack_reserve":0}','gogc=50',0,1,-4689498862643123097,'done','local-1','fixture',1796061097615566937,1796061097722148851,NULL,replace('churn: 300000 objects, 79167199 bytes requested, 10000 live at once, 1 goroutines\n','\n',char(10)),105191078,300001,85357088,62,3089736,38670391,8593408,16674816,4096,2);
INSERT INTO tasks VALUES(3,1,2,'churn','{"objects":300000,"live_objects":10000,"min_bytes":16,"max_bytes":512,"goroutines":1}','{"gogc":50,"memory_limit":0,"heap_max":0,"stack_reserve":0}','gogc=50',0,2,-534904783426661026,'done','local-1','fixture',1796061097722404698,1796061097817018068,NULL,replace('churn: 300000 objects, 79104490 bytes requested, 10000 live at once, 1 goroutines\n','\n',char(10)),90978767,300001,85297976,66,17832467,57441050,4308992,16728064,4096,0);
INSERT INTO tasks VALUES(4,1,3,'churn','{"objects":300000,"live_objects":10000,"min_bytes":16,"max_bytes":512,"goroutines":1}','{"gogc":200,"memory_limit":0,"heap_max":0,"stack_reserve":0}','gogc=200',1,0,8196980753821780235,'done','local-0','fixture',1796061097723949692,1796061097814294084,NULL,replace('churn: 300000 objects, 79081631 bytes requested, 10000 live at once, 1 goroutines\n','\n',char(10)),86968303,300001,85276464,15,7562292,34800932,5595136,26071040,4096,2);
INSERT INTO tasks VALUES(5,1,4,'churn','{"objects":300000,"live_objects":10000,"min_bytes":16,"max_bytes":512,"goroutines":1}','{"gogc":200,"memory_limit":0,"heap_max":0,"stack_reserve":0}','gogc=200',1,1,8195237237126968761,'done','local-0','fixture',1796061097814434256,1796061097887433711,NULL,replace('churn: 300000 objects, 79170913 bytes requested, 10000 live at once, 1 goroutines\n','\n',char(10)),72344282,300001,85357576,16,2479297,10330046,15409152,35356672,4096,0);
INSERT INTO tasks VALUES(6,1,5,'churn','{"objects":300000,"live_objects":10000,"min_bytes":16,"max_bytes":512,"goroutines":1}','{"gogc":200,"memory_limit":0,"heap_max":0,"stack_reserve":0}','gogc=200',1,2,-4373826470845021568,'done','local-1','fixture',1796061097817266862,1796061097886715360,NULL,replace('churn: 300000 objects, 79211005 bytes requested, 10000 live at once, 1 goroutines\n','\n',char(10)),68260372,300001,85415200,14,2479297,9108877,11722752,35401728,4096,2);
CREATE TABLE samples (
    id                INTEGER PRIMARY KEY,  -- sample row id
    run_id            INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,  -- the run
    task_id           INTEGER REFERENCES tasks(id) ON DELETE CASCADE,  -- task being run; NULL if none
    worker            TEXT,                 -- worker that sent it (workers.name)
    t_ns              INTEGER NOT NULL,     -- since the task started
    unix_ns           INTEGER,              -- when it was taken
    heap_alloc_bytes  INTEGER,              -- bytes in allocated objects
    heap_inuse_bytes  INTEGER,              -- bytes in spans in use
    heap_sys_bytes    INTEGER,              -- bytes of the segment mapped
    heap_live_bytes   INTEGER,              -- bytes marked live by the last collection
    heap_goal_bytes   INTEGER,              -- heap size that triggers the next collection
    num_gc            INTEGER,              -- collections so far
    pause_total_ns    INTEGER,              -- sum of the pauses so far
    alloc_objects     INTEGER,              -- objects allocated by this worker in the task, cumulative
    alloc_bytes       INTEGER,              -- bytes allocated by this worker in the task, cumulative
    goroutines        INTEGER,              -- goroutines alive
    stack_inuse_bytes INTEGER,              -- bytes of goroutine stacks in use
    rss_bytes         INTEGER,              -- resident set size of the worker
    cpu_user_ns       INTEGER,              -- user CPU time of the worker
    cpu_sys_ns        INTEGER,              -- system CPU time of the worker
    minor_faults      INTEGER,              -- minor page faults of the worker
    major_faults      INTEGER,              -- major page faults of the worker
    ctx_switches      INTEGER               -- context switches of the worker
);
INSERT INTO samples VALUES(1,1,1,'local-0',3607502,1796061097614879394,3368120,3604480,13861888,0,4194304,0,0,11496,3368120,2,8192,10817536,2654000,5308000,1284,0,18);
INSERT INTO samples VALUES(2,1,2,'local-1',363889,1796061097616330211,3738840,4251648,14951936,0,4194304,0,0,1048,370720,2,8192,7589888,4992000,0,491,0,13);
INSERT INTO samples VALUES(3,1,1,'local-0',103784012,1796061097715056005,6995040,8798208,20402176,5836080,8754120,56,37289716,261280,74417368,2,8192,16654336,26496000,7570000,2422,0,122);
INSERT INTO samples VALUES(4,1,2,'local-1',100530391,1796061097716496744,6567552,8593408,20402176,5847848,8771772,57,37517160,273719,77859200,2,8192,16637952,23353000,9341000,2030,0,125);
INSERT INTO samples VALUES(5,1,3,'local-1',55002,1796061097722770100,2943216,4202496,20402176,2943216,4414824,0,0,0,0,0,0,16678912,25843000,9341000,2043,0,144);
INSERT INTO samples VALUES(6,1,4,'local-0',2468416,1796061097726678303,2012128,2285568,12771840,0,4194304,0,0,6842,2012128,2,8192,18984960,30820000,10142000,2994,0,145);
INSERT INTO samples VALUES(7,1,5,'local-0',100738,1796061097814608170,5248904,5595136,20402176,2911528,8734584,0,0,0,0,0,0,26071040,47718000,17042000,4724,0,190);
INSERT INTO samples VALUES(8,1,6,'local-1',1755576,1796061097819318230,4799576,5128192,20402176,2914072,8742216,0,0,6243,1885504,2,8192,19398656,50411000,12550000,2622,0,182);
CREATE TABLE gc_cycles (
    id               INTEGER PRIMARY KEY,  -- gc row id
    run_id           INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,  -- the run
    task_id          INTEGER REFERENCES tasks(id) ON DELETE CASCADE,  -- task in the collecting worker; NULL if none
    host             TEXT,                 -- host of the heap
    heap             TEXT,                 -- shared-memory segment name
    worker           TEXT,                 -- worker that ran the collection
    cycle            INTEGER NOT NULL,     -- collection number in that heap, from 1
    forced           INTEGER,              -- 1 if forced (runtime.GC), 0 if paced
    start_unix_ns    INTEGER,              -- when the collection started
    since_start_ns   INTEGER,              -- since the heap was created
    gc_cpu_fraction  REAL,                 -- share of CPU spent collecting so far, 0..1
    stw_ns           INTEGER,              -- stop-the-world pause in total
    stop_ns          INTEGER,              -- time to stop every process
    mark_ns          INTEGER,              -- wall time of marking
    sweep_ns         INTEGER,              -- wall time of sweeping
    mark_cpu_ns      INTEGER,              -- CPU time of marking
    sweep_cpu_ns     INTEGER,              -- CPU time of sweeping
    heap_start_bytes INTEGER,              -- heap in use when it started
    heap_end_bytes   INTEGER,              -- heap in use when it ended
    heap_live_bytes  INTEGER,              -- bytes marked live
    heap_goal_bytes  INTEGER,              -- goal set for the next collection
    stack_bytes      INTEGER,              -- goroutine stacks scanned
    globals_bytes    INTEGER,              -- globals scanned
    objects_live     INTEGER,              -- objects marked live
    objects_freed    INTEGER,              -- objects swept
    nprocs           INTEGER               -- processes attached to the heap
, sweep_term_ns INTEGER, mark_term_ns INTEGER, mark_assist_cpu_ns INTEGER, mark_bg_cpu_ns INTEGER, mark_idle_cpu_ns INTEGER, heap_trigger_bytes INTEGER, heap_live_start_bytes INTEGER, heap_live_end_bytes INTEGER, concurrent INTEGER);
INSERT INTO gc_cycles VALUES(1,1,1,'fixture','dbe775dbad66f4f5-0','local-0',2,0,1796061097617869904,6673544,0.32542600977693481034,2424604,2239158,161842,17633,161942,17263,5111808,3883008,3283840,4925760,0,32,11049,5194,2,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO gc_cycles VALUES(9,1,1,'fixture','dbe775dbad66f4f5-0','local-0',18,0,1796061097649202425,38005974,0.38997124294966722946,1681337,1383742,258142,33322,258693,32841,8962048,7733248,5872752,8809128,0,32,20003,9620,2,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO gc_cycles VALUES(17,1,1,'fixture','dbe775dbad66f4f5-0','local-0',35,0,1796061097674467612,63271161,0.33355438096347722609,336548,34705,266948,29986,244386,29886,8970240,8216576,5813856,8720784,0,32,20002,9683,2,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO gc_cycles VALUES(25,1,1,'fixture','dbe775dbad66f4f5-0','local-0',48,0,1796061097701311576,90115125,0.326209297023903666,224860,12604,175538,31679,175588,31518,9076736,7897088,5821728,8732592,0,32,20002,9796,2,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO gc_cycles VALUES(33,1,2,'fixture','dbe775dbad66f4f5-0','local-1',8,0,1796061097631827271,20630890,0.41164118644267017055,2254767,1984383,236121,28503,236222,28413,8970240,7086080,5827272,8740908,0,32,20002,9693,2,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO gc_cycles VALUES(41,1,2,'fixture','dbe775dbad66f4f5-0','local-1',23,0,1796061097656215864,45019412,0.39861644973843318728,217976,12764,170047,30227,170087,30146,8986624,7733248,5851064,8776596,0,32,20002,9665,2,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO gc_cycles VALUES(49,1,2,'fixture','dbe775dbad66f4f5-0','local-1',39,0,1796061097679353680,68157229,0.34507757231552999011,230571,13656,182611,28934,182632,28833,9003008,8470528,5841424,8762136,0,32,20003,9677,2,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO gc_cycles VALUES(57,1,2,'fixture','dbe775dbad66f4f5-0','local-1',58,0,1796061097717273423,106076962,0.35503659641669116364,223336,12513,173994,31399,174055,31268,9019392,8429568,5854104,8781156,0,32,20002,9670,2,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO gc_cycles VALUES(65,1,4,'fixture','dbe775dbad66f4f5-1','local-0',1,0,1796061097731639942,7494465,0.18779164235918557879,1732804,2696,1709420,16761,186167,16401,4243456,3293184,2916104,8748312,0,16,10001,3829,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO gc_cycles VALUES(73,1,4,'fixture','dbe775dbad66f4f5-1','local-0',8,0,1796061097779634405,55488848,0.24720071522038325473,123661,1754,87212,31078,86862,31148,8929280,3383296,2893568,8680704,0,16,10001,19990,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO gc_cycles VALUES(81,1,3,'fixture','dbe775dbad66f4f5-0','local-1',66,0,1796061097726991007,115794556,0.34354049896920224593,127308,1663,89907,29836,89708,29825,6553600,3948544,2629640,4194304,0,16,9017,11469,2,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO gc_cycles VALUES(89,1,3,'fixture','dbe775dbad66f4f5-0','local-1',74,0,1796061097732042193,120845742,0.35393043625680875585,110055,952,86101,17653,85760,17612,4513792,3809280,2937136,4405704,0,16,10002,4407,2,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO gc_cycles VALUES(97,1,3,'fixture','dbe775dbad66f4f5-0','local-1',82,0,1796061097739664287,128467836,0.37669043234604171477,130774,1092,104956,17844,104686,17582,4497408,4104192,2942744,4414116,0,16,10001,4521,2,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO gc_cycles VALUES(105,1,3,'fixture','dbe775dbad66f4f5-0','local-1',90,0,1796061097744380838,133184377,0.38520233748346932589,108202,852,85359,16681,85128,16651,4472832,4235264,2916544,4374816,0,16,10001,4460,2,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO gc_cycles VALUES(113,1,3,'fixture','dbe775dbad66f4f5-0','local-1',98,0,1796061097748076094,136879663,0.40050798326030212503,2608398,1172,82093,2519101,81922,53750,4497408,4235264,2915856,4373784,0,16,10001,4505,2,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO gc_cycles VALUES(121,1,3,'fixture','dbe775dbad66f4f5-0','local-1',106,0,1796061097776092465,164896085,0.45164382427213634052,149659,2415,119082,20919,119493,20429,4505600,4243456,2910240,4365360,0,16,10001,4593,2,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO gc_cycles VALUES(129,1,3,'fixture','dbe775dbad66f4f5-0','local-1',114,0,1796061097793859481,182663030,0.45631450956468988522,157534,1112,85150,65792,84979,29434,4587520,4284416,2906112,4359168,0,16,10002,4786,2,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO gc_cycles VALUES(137,1,3,'fixture','dbe775dbad66f4f5-0','local-1',122,0,1796061097801345741,190149290,0.4727011636609519396,5449780,992,5417069,26960,197488,25999,4538368,4374528,2932264,4398396,0,16,10001,4548,2,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO gc_cycles VALUES(145,1,3,'fixture','dbe775dbad66f4f5-0','local-1',130,0,1796061097813444519,202248068,0.47840915010524692752,352618,952,328893,18455,89868,18224,4530176,4308992,2925544,4388316,0,16,10001,4605,2,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO gc_cycles VALUES(153,1,6,'fixture','dbe775dbad66f4f5-1','local-1',28,0,1796061097877917903,153772347,0.28797863771467702154,242261,12884,169937,53329,170037,53309,17760256,6774784,5824480,17473440,0,32,20002,39851,2,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO gc_cycles VALUES(161,1,5,'fixture','dbe775dbad66f4f5-1','local-0',31,0,1796061097884625120,160479633,0.28079592078381787612,245558,15449,170908,53340,170909,53469,17866752,6750208,5883440,17650320,0,32,20002,40436,2,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
CREATE TABLE metrics (
    id      INTEGER PRIMARY KEY,           -- metric row id
    task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,  -- the task that reported it
    name    TEXT NOT NULL,                 -- metric name, unique in the task
    value   REAL NOT NULL,                 -- the figure (finite)
    unit    TEXT,                          -- its unit, e.g. 'ns', 'B', 'ops/s'; may be NULL
    UNIQUE (task_id, name)
);
INSERT INTO metrics VALUES(1,2,'ns_per_alloc',350.38261999999997442,'ns');
INSERT INTO metrics VALUES(2,2,'bytes_requested',79167199.0,'B');
INSERT INTO metrics VALUES(3,1,'ns_per_alloc',373.88364333333333887,'ns');
INSERT INTO metrics VALUES(4,1,'bytes_requested',79221096.0,'B');
INSERT INTO metrics VALUES(5,4,'ns_per_alloc',289.85293333333333977,'ns');
INSERT INTO metrics VALUES(6,4,'bytes_requested',79081631.0,'B');
INSERT INTO metrics VALUES(7,3,'ns_per_alloc',303.22248000000001865,'ns');
INSERT INTO metrics VALUES(8,3,'bytes_requested',79104490.0,'B');
INSERT INTO metrics VALUES(9,6,'ns_per_alloc',227.48347333333333608,'ns');
INSERT INTO metrics VALUES(10,6,'bytes_requested',79211005.0,'B');
INSERT INTO metrics VALUES(11,5,'ns_per_alloc',241.09921666666667761,'ns');
INSERT INTO metrics VALUES(12,5,'bytes_requested',79170913.0,'B');
CREATE TABLE params (
    task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    kind    TEXT NOT NULL,
    name    TEXT NOT NULL,
    value,
    UNIQUE (task_id, kind, name)
);
INSERT INTO params VALUES(1,'kernel','objects',300000);
INSERT INTO params VALUES(1,'kernel','live_objects',10000);
INSERT INTO params VALUES(1,'kernel','min_bytes',16);
INSERT INTO params VALUES(1,'kernel','max_bytes',512);
INSERT INTO params VALUES(1,'kernel','goroutines',1);
INSERT INTO params VALUES(2,'kernel','objects',300000);
INSERT INTO params VALUES(2,'kernel','live_objects',10000);
INSERT INTO params VALUES(2,'kernel','min_bytes',16);
INSERT INTO params VALUES(2,'kernel','max_bytes',512);
INSERT INTO params VALUES(2,'kernel','goroutines',1);
INSERT INTO params VALUES(3,'kernel','objects',300000);
INSERT INTO params VALUES(3,'kernel','live_objects',10000);
INSERT INTO params VALUES(3,'kernel','min_bytes',16);
INSERT INTO params VALUES(3,'kernel','max_bytes',512);
INSERT INTO params VALUES(3,'kernel','goroutines',1);
INSERT INTO params VALUES(4,'kernel','objects',300000);
INSERT INTO params VALUES(4,'kernel','live_objects',10000);
INSERT INTO params VALUES(4,'kernel','min_bytes',16);
INSERT INTO params VALUES(4,'kernel','max_bytes',512);
INSERT INTO params VALUES(4,'kernel','goroutines',1);
INSERT INTO params VALUES(5,'kernel','objects',300000);
INSERT INTO params VALUES(5,'kernel','live_objects',10000);
INSERT INTO params VALUES(5,'kernel','min_bytes',16);
INSERT INTO params VALUES(5,'kernel','max_bytes',512);
INSERT INTO params VALUES(5,'kernel','goroutines',1);
INSERT INTO params VALUES(6,'kernel','objects',300000);
INSERT INTO params VALUES(6,'kernel','live_objects',10000);
INSERT INTO params VALUES(6,'kernel','min_bytes',16);
INSERT INTO params VALUES(6,'kernel','max_bytes',512);
INSERT INTO params VALUES(6,'kernel','goroutines',1);
INSERT INTO params VALUES(1,'runtime','gogc',50);
INSERT INTO params VALUES(1,'runtime','memory_limit',0);
INSERT INTO params VALUES(1,'runtime','heap_max',0);
INSERT INTO params VALUES(1,'runtime','stack_reserve',0);
INSERT INTO params VALUES(2,'runtime','gogc',50);
INSERT INTO params VALUES(2,'runtime','memory_limit',0);
INSERT INTO params VALUES(2,'runtime','heap_max',0);
INSERT INTO params VALUES(2,'runtime','stack_reserve',0);
INSERT INTO params VALUES(3,'runtime','gogc',50);
INSERT INTO params VALUES(3,'runtime','memory_limit',0);
INSERT INTO params VALUES(3,'runtime','heap_max',0);
INSERT INTO params VALUES(3,'runtime','stack_reserve',0);
INSERT INTO params VALUES(4,'runtime','gogc',200);
INSERT INTO params VALUES(4,'runtime','memory_limit',0);
INSERT INTO params VALUES(4,'runtime','heap_max',0);
INSERT INTO params VALUES(4,'runtime','stack_reserve',0);
INSERT INTO params VALUES(5,'runtime','gogc',200);
INSERT INTO params VALUES(5,'runtime','memory_limit',0);
INSERT INTO params VALUES(5,'runtime','heap_max',0);
INSERT INTO params VALUES(5,'runtime','stack_reserve',0);
INSERT INTO params VALUES(6,'runtime','gogc',200);
INSERT INTO params VALUES(6,'runtime','memory_limit',0);
INSERT INTO params VALUES(6,'runtime','heap_max',0);
INSERT INTO params VALUES(6,'runtime','stack_reserve',0);
CREATE TABLE events (
    id      INTEGER PRIMARY KEY,
    run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    task_id INTEGER REFERENCES tasks(id) ON DELETE CASCADE,
    unix_ns INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    worker  TEXT,
    count   INTEGER,
    detail  TEXT
);
CREATE TABLE heap_profiles ( task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE, cycle INTEGER NOT NULL, final INTEGER NOT NULL, site TEXT NOT NULL, rate INTEGER NOT NULL, alloc_objects INTEGER NOT NULL, alloc_bytes INTEGER NOT NULL, inuse_objects INTEGER NOT NULL, inuse_bytes INTEGER NOT NULL, PRIMARY KEY (task_id, cycle, site));
CREATE TABLE retention (
    task_id    INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    cycle      INTEGER NOT NULL,
    final      INTEGER NOT NULL,
    worker     TEXT,
    objects    INTEGER NOT NULL,
    bytes      INTEGER NOT NULL,
    pause_ns   INTEGER NOT NULL,
    min_cycles INTEGER NOT NULL,
    pprof      BLOB NOT NULL,
    PRIMARY KEY (task_id, cycle, final)
);
CREATE TABLE retention_sites (
    task_id    INTEGER NOT NULL,
    cycle      INTEGER NOT NULL,
    final      INTEGER NOT NULL,
    site       TEXT NOT NULL,
    root_group TEXT NOT NULL,
    root       TEXT NOT NULL,
    roots      INTEGER NOT NULL,
    objects    INTEGER NOT NULL,
    site_objects INTEGER NOT NULL,
    retained_bytes INTEGER NOT NULL,
    holder     TEXT NOT NULL,
    holder_retained_bytes INTEGER NOT NULL,
    path       TEXT NOT NULL,
    PRIMARY KEY (task_id, cycle, final, site),
    FOREIGN KEY (task_id, cycle, final) REFERENCES retention(task_id, cycle, final) ON DELETE CASCADE
);
CREATE TABLE goroutine_leaks (
    task_id    INTEGER NOT NULL,
    cycle      INTEGER NOT NULL,
    final      INTEGER NOT NULL,
    label      TEXT NOT NULL,
    reason     TEXT NOT NULL,
    count      INTEGER NOT NULL,
    min_cycles INTEGER NOT NULL,
    max_cycles INTEGER NOT NULL,
    PRIMARY KEY (task_id, cycle, final, label, reason),
    FOREIGN KEY (task_id, cycle, final) REFERENCES retention(task_id, cycle, final) ON DELETE CASCADE
);
CREATE INDEX samples_by_task ON samples (task_id, t_ns);
CREATE INDEX samples_by_run ON samples (run_id);
CREATE INDEX gc_cycles_by_run ON gc_cycles (run_id, start_unix_ns);
CREATE INDEX runs_by_started ON runs (started_unix_ns);
CREATE INDEX runs_by_name ON runs (name, started_unix_ns);
CREATE INDEX gc_cycles_by_task ON gc_cycles (task_id, start_unix_ns);
CREATE INDEX params_by_name ON params (name, value);
CREATE TRIGGER tasks_params AFTER INSERT ON tasks
BEGIN
    INSERT INTO params (task_id, kind, name, value)
        SELECT NEW.id, 'kernel', key, value FROM json_each(
            CASE WHEN json_valid(NEW.params_json)
                  AND json_type(NEW.params_json) = 'object'
                 THEN NEW.params_json ELSE '{}' END);
    INSERT INTO params (task_id, kind, name, value)
        SELECT NEW.id, 'runtime', key, value FROM json_each(
            CASE WHEN json_valid(NEW.runtime_json)
                  AND json_type(NEW.runtime_json) = 'object'
                 THEN NEW.runtime_json ELSE '{}' END);
END;
CREATE INDEX events_by_run ON events (run_id, unix_ns);
CREATE INDEX events_by_task ON events (task_id);
CREATE VIEW task_summary AS
SELECT t.id AS task_id, t.run_id, t.seq, t.kernel, t.label, t.sweep_point,
       t.repeat_index, t.status, t.worker, t.wall_ns, t.alloc_objects,
       t.alloc_bytes, t.gc_cycles, t.pause_max_ns, t.pause_total_ns,
       t.peak_heap_bytes, t.peak_rss_bytes, t.stack_hwm_bytes, t.goroutines_max,
       (SELECT sum(mark_cpu_ns + sweep_cpu_ns) FROM gc_cycles g
        WHERE g.task_id = t.id) AS gc_cpu_ns,
       CASE WHEN t.wall_ns > 0 THEN
           (SELECT sum(mark_cpu_ns + sweep_cpu_ns) FROM gc_cycles g
            WHERE g.task_id = t.id) * 1.0 / t.wall_ns END AS gc_cpu_share,
       (SELECT count(*) FROM samples s WHERE s.task_id = t.id) AS samples
FROM tasks t;
CREATE VIEW run_summary AS
SELECT r.id AS run_id, r.token, r.name, r.status, r.host, r.started_unix_ns,
       r.ended_unix_ns, r.ended_unix_ns - r.started_unix_ns AS wall_ns,
       count(t.id) AS tasks_total,
       count(CASE WHEN t.status = 'done' THEN 1 END) AS tasks_done,
       count(CASE WHEN t.status = 'failed' THEN 1 END) AS tasks_failed,
       sum(t.gc_cycles) AS gc_cycles, sum(t.pause_total_ns) AS pause_total_ns,
       max(t.pause_max_ns) AS pause_max_ns, max(t.peak_heap_bytes) AS peak_heap_bytes,
       r.error
FROM runs r LEFT JOIN tasks t ON t.run_id = r.id
GROUP BY r.id;
COMMIT;
