"""The gRPC edge: the versioned API's generated code (`scheduler.api.v1`) and, later, its
servicers, the proto <-> domain conversion and the client. Generated from
`proto/gba/scheduler/v1/*.proto` by `python -m scheduler.api.codegen`."""
