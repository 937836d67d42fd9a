// swift-tools-version:6.0
// libFuzzer target over ONNX import; kept out of the main package because it
// only links with -sanitize=fuzzer. See the README's development section.
import PackageDescription

let package = Package(
    name: "cleave-fuzz",
    dependencies: [.package(name: "cleave", path: "../..")],
    targets: [
        .executableTarget(
            name: "ImportFuzzer",
            dependencies: [.product(name: "CleaveIR", package: "cleave")],
            swiftSettings: [.unsafeFlags(["-parse-as-library"]), .swiftLanguageMode(.v5)]),
    ]
)
