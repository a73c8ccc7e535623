"""Generated code of the API's version 1 (`gba.scheduler.v1`): `*_pb2.py` messages, `*_pb2.pyi`
typed stubs, `*_pb2_grpc.py` service stubs and servicers. Do not edit: change the protos in
`proto/gba/scheduler/v1/` and run `python -m scheduler.api.codegen` from the repository root."""
