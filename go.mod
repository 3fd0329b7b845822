module bulkhead.dev/bulkhead

go 1.26
