import ArgumentParser
import CleaveIR
import CleavePlan
import CleaveRuntime

#if canImport(Glibc)
import Glibc
#endif

struct Profile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure this machine's layer latencies and write a device profile for `cleave plan`.",
        discussion: """
            Runs a sweep of one-node graphs through cleave's runtime — Conv over kernel, \
            stride, channels, spatial size and groups; 1×1 and depthwise Conv; Gemm and \
            MatMul; pooling; normalisation; element-wise, activation and broadcasting \
            ops; copies, transposes and reshapes — each with warm-up runs and repeats \
            (lower quartile), and fits one linear latency model per op kind by \
            non-negative least squares on relative error, with a measured factor per op \
            within its kind (Div runs slower than Add on the same bytes). With several \
            threads, a kind gets a second model for the layers too small to split, \
            fitted on those alone, where two models fit better than one. The profile \
            stores the coefficients, the factors, the number of samples and the fit \
            quality (R², MAPE) per kind; its format is schemas/profile.schema.json.

            Then whole generated networks, too big for the cache, of cached size and \
            small, calibrate the context model: what a node costs inside a model \
            beyond what it costs alone.

            A full profile takes about two minutes (every configuration is measured \
            in three passes and the fastest kept); --quick a few seconds. At 1 \
            thread runs of 2 ms and more are timed with the CPU clock, so other \
            processes hardly disturb it; with more threads measure on an idle machine.

            --slowdown S records a factor that multiplies every prediction: a profile \
            of this machine at 1 thread with --slowdown 8 stands for a device 8× slower \
            (cleave's built-in edge profile).

            Example:
              cleave profile -o cloud.json --threads 2 --name cloud
              cleave profile -o edge.json --threads 1 --slowdown 8 --name edge
            """)

    @Option(name: .shortAndLong, help: "Where to write the profile (JSON).")
    var output: String

    @OptionGroup var threading: ThreadOptions

    @Option(help: "A name for the device (default: the CPU model and thread count).")
    var name: String?

    @Flag(help: "Measure a sixth of the configurations with fewer repeats (a few seconds).")
    var quick = false

    @Option(help: "Multiply every predicted time by this factor (> 0) to stand for a slower device.")
    var slowdown: Double = 1

    @Option(help: ArgumentHelp("Also write every measured configuration with its prediction to this JSON file.", valueName: "file"))
    var samples: String?

    @Flag(help: "Print the fit per op kind as JSON instead of a table.")
    var json = false

    func validate() throws {
        guard slowdown > 0, slowdown.isFinite else { throw ValidationError("--slowdown must be a number > 0") }
    }

    func run() throws {
        let threads = threading.threads ?? Session.availableCores
        let label = name ?? "\(DeviceProfile.Machine.current.cpu), \(threads) thread\(threads == 1 ? "" : "s")"
        let options = Profiler.Options(threads: threads, name: label, quick: quick, slowdown: slowdown)
        let onTerminal = isatty(STDERR_FILENO) != 0
        let result = try Profiler.measure(options) { progress in
            guard onTerminal else { return }
            let line = "profiling \(progress.done)/\(progress.total) \(progress.kind) (\(Int(progress.elapsedSeconds)) s)"
            fputs("\r\u{1B}[K" + line, stderr)
            if progress.done == progress.total { fputs("\n", stderr) }
        }
        try result.profile.write(to: output)
        if let samples {
            let text = result.samplesJSON.serialized(pretty: true) + "\n"
            try AtomicFile.write(to: samples) { fd in
                try Array(text.utf8).withUnsafeBytes { try AtomicFile.writeAll(fd, $0, path: samples) }
            }
        }

        let profile = result.profile
        if json {
            print(profile.json.serialized(pretty: true))
            return
        }
        let rows = OpKind.allCases.compactMap { kind -> [String]? in
            guard let model = profile.models[kind] else { return nil }
            return [kind.rawValue, String(model.samples), fixed(model.r2, 3), fixed(model.mape * 100, 1) + "%",
                    model.features.map(\.rawValue).joined(separator: ", ")]
        }
        print(table(["kind", "samples", "R²", "MAPE", "features"], rows, rightAligned: [1, 2, 3]))
        print("run overhead \(fixed(profile.runOverheadMilliseconds * 1000, 1)) µs; \(threads) thread\(threads == 1 ? "" : "s"); slowdown \(fixed(slowdown, 2)); wrote \(output)")
    }
}
