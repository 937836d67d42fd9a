// swift-tools-version:6.0
import PackageDescription

// Layers, light to heavy: C shims → CleaveIR → CleaveRuntime → … → the `cleave` CLI.
// A module may use the ones before it, never the reverse.
let package = Package(
    name: "cleave",
    products: [
        .executable(name: "cleave", targets: ["cleave"]),
        .library(name: "CleaveIR", targets: ["CleaveIR"]),
        .library(name: "CleaveRuntime", targets: ["CleaveRuntime"]),
        .library(name: "CleaveBundle", targets: ["CleaveBundle"]),
        .library(name: "CleaveCompress", targets: ["CleaveCompress"]),
        .library(name: "CleavePlan", targets: ["CleavePlan"]),
        .library(name: "CleaveServe", targets: ["CleaveServe"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // Already a dependency of Hummingbird; named because CleaveServe uses its header types.
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        // MARK: C boundary (Debian: libprotobuf-c-dev, zlib1g-dev, libopenblas-dev)
        .systemLibrary(name: "CProtobufC", pkgConfig: "libprotobuf-c", providers: [.apt(["libprotobuf-c-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CPause"),
        /// protoc-c output for schemas/onnx.proto (tools/gen-proto.sh); never edited by hand.
        .target(name: "ONNXProto", dependencies: ["CProtobufC"]),

        // MARK: Swift modules
        .target(name: "CleaveIR", dependencies: ["ONNXProto", "CProtobufC"], swiftSettings: swiftSettings),
        .target(name: "CleaveRuntime", dependencies: ["CleaveIR", "COpenBLAS", "CZlib", "CPause"], swiftSettings: swiftSettings),
        .target(name: "CleaveCompress", dependencies: ["CleaveIR", "CleaveRuntime", "COpenBLAS"], swiftSettings: swiftSettings),
        .target(name: "CleavePlan", dependencies: ["CleaveIR", "CleaveRuntime"], swiftSettings: swiftSettings),
        .target(
            name: "CleaveBundle",
            dependencies: ["CleaveIR", "CleaveRuntime", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings),
        /// The only module that imports the HTTP stack: KServe v2 server and client.
        .target(
            name: "CleaveServe",
            dependencies: [
                "CleaveIR", "CleaveRuntime", "CleaveBundle",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "cleave",
            dependencies: ["CleaveIR", "CleaveRuntime", "CleaveCompress", "CleavePlan", "CleaveBundle", "CleaveServe", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings),

        // MARK: Tests
        .testTarget(name: "CleaveIRTests", dependencies: ["CleaveIR"], exclude: ["Data"], swiftSettings: swiftSettings),
        .testTarget(name: "CleaveRuntimeTests", dependencies: ["CleaveRuntime", "CleaveIR"], swiftSettings: swiftSettings),
        .testTarget(name: "CleaveBundleTests", dependencies: ["CleaveBundle", "CleaveIR", "CleaveRuntime"], swiftSettings: swiftSettings),
        .testTarget(name: "CleaveCompressTests", dependencies: ["CleaveCompress", "CleaveIR", "CleaveRuntime"], swiftSettings: swiftSettings),
        .testTarget(name: "CleavePlanTests", dependencies: ["CleavePlan", "CleaveIR", "CleaveRuntime"], swiftSettings: swiftSettings),
        .testTarget(
            name: "CleaveServeTests",
            dependencies: ["CleaveServe", "CleaveBundle", "CleaveIR", "CleaveRuntime", "CZlib",
                           .product(name: "AsyncHTTPClient", package: "async-http-client"),
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings),
        .testTarget(name: "CLITests", dependencies: ["CleaveIR"], swiftSettings: swiftSettings),
    ]
)

var swiftSettings: [SwiftSetting] {
    [.swiftLanguageMode(.v5)]
}
