import CleaveIR

/// Any bytes either import as a valid graph or fail with a `CleaveError`;
/// a trap, crash or sanitizer report is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImport(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let file = MappedFile(path: "/nonexistent-fuzz-dir/model.onnx", copying: UnsafeRawBufferPointer(start: data, count: size))
    if let graph = try? ONNXImporter.load(file: file) {
        _ = graph.constants.count
    }
    return 0
}

typealias FuzzTarget = @convention(c) (UnsafePointer<UInt8>, Int) -> CInt

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ target: FuzzTarget) -> CInt

/// SwiftPM links an executable's entry point as `<Target>_main`; hand control to libFuzzer's driver.
@_cdecl("ImportFuzzer_main")
func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzImport(data, size) }
}
