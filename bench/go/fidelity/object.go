package main

import (
	"reflect"
	"unsafe"
)

// An object as heapsim lays it out: nptrs reference slots, then
// scalarBytes of plain data (heap_alloc(nptrs, scalar_bytes); no header
// in heapsim's slot, as in Go's). Go allocates it with a type of exactly
// that size and pointer map, so it lands in the same size class and the
// collector scans only its slots.
var layouts = map[[2]uint64]reflect.Type{}

func objectType(nptrs, scalarBytes uint64) reflect.Type {
	key := [2]uint64{nptrs, scalarBytes}
	if t, ok := layouts[key]; ok {
		return t
	}
	var fields []reflect.StructField
	if nptrs > 0 {
		fields = append(fields, reflect.StructField{Name: "Slots",
			Type: reflect.ArrayOf(int(nptrs), reflect.TypeOf(unsafe.Pointer(nil)))})
	}
	if scalarBytes > 0 {
		fields = append(fields, reflect.StructField{Name: "Data",
			Type: reflect.ArrayOf(int(scalarBytes), reflect.TypeOf(byte(0)))})
	}
	t := reflect.StructOf(fields)
	reflect.PtrTo(t) // made (and cached) now, not by the first reflect.New
	layouts[key] = t
	return t
}

// newObject allocates a zeroed object of nptrs slots and scalarBytes bytes
// (a pointer-free one is a plain []byte allocation, as Go makes it).
func newObject(p *probe, nptrs, scalarBytes uint64) unsafe.Pointer {
	size := nptrs*8 + scalarBytes
	p.alloc(size)
	if nptrs == 0 {
		b := make([]byte, scalarBytes)
		return unsafe.Pointer(&b[0])
	}
	return reflect.New(objectType(nptrs, scalarBytes)).UnsafePointer()
}

// slots of an object made by newObject.
func slots(obj unsafe.Pointer, nptrs uint64) []unsafe.Pointer {
	return unsafe.Slice((*unsafe.Pointer)(obj), nptrs)
}

// data: its scalar bytes.
func data(obj unsafe.Pointer, nptrs, scalarBytes uint64) []byte {
	return unsafe.Slice((*byte)(unsafe.Add(obj, nptrs*8)), scalarBytes)
}

// words: its scalar bytes as 64-bit words (scalarBytes >= 8*n).
func words(obj unsafe.Pointer, nptrs, n uint64) []uint64 {
	return unsafe.Slice((*uint64)(unsafe.Add(obj, nptrs*8)), n)
}
