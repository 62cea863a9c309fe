"""cc_grpc_proto: C++ messages and gRPC stubs from Debian's protoc.

Runs /usr/bin/protoc with /usr/bin/grpc_cpp_plugin in a genrule. The proto is
compiled with the workspace root as import root, so a file at
proto/a/v1/x.proto is imported as "proto/a/v1/x.proto" and its generated
header is included as "proto/a/v1/x.pb.h". Well-known types come from
/usr/include. See doc/adr/0003.
"""

def cc_grpc_proto(name, src, deps = [], grpc = True, visibility = None):
    base = src[:-len(".proto")]
    outs = [base + ".pb.h", base + ".pb.cc"]
    if grpc:
        outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc"]
    pkg = native.package_name()
    grpc_flags = ""
    if grpc:
        grpc_flags = ("--plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin " +
                      "--grpc_out=$(GENDIR) ")
    native.genrule(
        name = name + "_gen",
        srcs = [src] + [d + "_srcs" for d in deps],
        outs = outs,
        cmd = ("/usr/bin/protoc -I. -I/usr/include --cpp_out=$(GENDIR) " +
               grpc_flags + pkg + "/" + src),
    )
    native.filegroup(name = name + "_srcs", srcs = [src], visibility = visibility)
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        deps = deps + ["@system//:grpc++", "@system//:protobuf"],
        visibility = visibility,
    )
