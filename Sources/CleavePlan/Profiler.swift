import CleaveIR
import CleaveRuntime

/// Measures this machine and fits a `DeviceProfile`.
///
/// Every configuration of the `Sweep` runs as a one-node graph through
/// `Session` — the same kernels and executor a model uses — with warm-up
/// runs, then repeats until enough runs and enough time were observed; the
/// sample is the median wall time of `Session.run` minus the fixed cost of a
/// run. That fixed cost comes first, from chains of 1 to 64 Identity nodes on
/// a one-element tensor (intercept of time against chain length). Then a
/// non-negative least-squares fit per op kind (`LinearFit`).
public enum Profiler {
    /// What to measure.
    public struct Options: Sendable {
        public var threads: Int
        public var name: String
        /// A third of the configurations, fewer repeats: about 20 s instead of 2–3 min.
        public var quick: Bool
        /// Recorded in the profile and applied to every prediction (1 = this machine).
        public var slowdown: Double

        public init(threads: Int, name: String, quick: Bool = false, slowdown: Double = 1) {
            self.threads = threads
            self.name = name
            self.quick = quick
            self.slowdown = slowdown
        }
    }

    /// Progress, reported after every measured configuration.
    public struct Progress: Sendable {
        public var done: Int
        public var total: Int
        public var kind: String
        public var elapsedSeconds: Double
    }

    /// One measured configuration.
    public struct Sample: Sendable {
        public var kind: OpKind
        /// A short description of the configuration: op and shapes.
        public var label: String
        /// Values of the kind's features (`OpKind.features`).
        public var features: [Double]
        /// Median net milliseconds (run overhead subtracted).
        public var milliseconds: Double
    }

    /// A fitted profile and the samples it was fitted on.
    public struct Result: Sendable {
        public var profile: DeviceProfile
        public var samples: [Sample]

        /// The samples with the profile's prediction next to each, as JSON
        /// (`[{"kind", "label", "features", "measured_ms", "predicted_ms"}]`).
        public var samplesJSON: JSON {
            .array(samples.map { sample in
                let model = profile.models[sample.kind]
                let predicted = zip(sample.features, model?.coefficients ?? []).reduce(0) { $0 + $1.0 * $1.1 }
                return .object([("kind", .string(sample.kind.rawValue)), ("label", .string(sample.label)),
                                ("features", .array(sample.features.map { .double($0) })),
                                ("measured_ms", .double(sample.milliseconds)), ("predicted_ms", .double(predicted))])
            })
        }
    }

    /// Measures every op kind and fits the profile.
    /// - Throws: `CleaveError` if a sweep configuration fails to run (a bug in
    ///   the sweep or a kernel, never expected).
    public static func measure(_ options: Options, progress: ((Progress) -> Void)? = nil) throws -> Result {
        let start = Session.now()
        let specs = Sweep.specs(quick: options.quick)
        let timing = Timing(quick: options.quick)
        let total = specs.count + 1
        let overhead = try runOverhead(threads: options.threads, timing: timing)
        progress?(Progress(done: 1, total: total, kind: "run overhead", elapsedSeconds: Session.now() - start))

        var samples: [Sample] = []
        for (index, spec) in specs.enumerated() {
            samples.append(try measure(spec.make(), threads: options.threads, timing: timing, overhead: overhead))
            progress?(Progress(done: index + 2, total: total, kind: spec.kind.rawValue, elapsedSeconds: Session.now() - start))
        }
        return Result(profile: fit(samples, options: options, overhead: overhead), samples: samples)
    }

    /// Fits one model per kind to `samples`.
    static func fit(_ samples: [Sample], options: Options, overhead: Double) -> DeviceProfile {
        var models: [OpKind: DeviceProfile.KindModel] = [:]
        for kind in OpKind.allCases {
            let mine = samples.filter { $0.kind == kind }
            let features = kind.features
            guard let fit = LinearFit.fit(rows: mine.map(\.features), targets: mine.map(\.milliseconds)) else {
                models[kind] = DeviceProfile.KindModel(features: features, coefficients: features.map { _ in 0 },
                                                       samples: 0, r2: 0, mape: 0)
                continue
            }
            models[kind] = DeviceProfile.KindModel(features: features, coefficients: fit.coefficients,
                                                   samples: mine.count, r2: fit.r2, mape: fit.mape)
        }
        return DeviceProfile(name: options.name, threads: options.threads, slowdown: options.slowdown,
                             machine: .current, sweep: options.quick ? "quick" : "full",
                             runOverheadMilliseconds: overhead, models: models)
    }

    /// Runs one configuration and returns its features and net time.
    static func measure(_ layer: LayerCase, threads: Int, timing: Timing, overhead: Double) throws -> Sample {
        let analysis = try Analysis(graph: layer.graph)
        let session = try Session(graph: layer.graph, options: SessionOptions(threads: threads))
        let milliseconds = try timing.median(session, layer.feeds)
        // The kind prediction will assign (a 1×1 Conv of the Conv sweep is pointwise).
        let kind = OpKind.of(0, in: analysis) ?? layer.kind
        let features = featureValues(0, features: kind.features, in: analysis)
        // A floor keeps the relative-error weights finite when noise eats a tiny op.
        return Sample(kind: kind, label: describe(layer), features: features,
                      milliseconds: Swift.max(milliseconds - overhead, 1e-5))
    }

    /// `Conv x[1, 3, 224, 224] w[64, 3, 11, 11] strides=4,4`.
    static func describe(_ layer: LayerCase) -> String {
        guard let node = layer.graph.nodes.first else { return layer.kind.rawValue }
        let shapes = node.inputs.filter { !$0.isEmpty }.map { name -> String in
            let shape = layer.feeds[name]?.shape ?? layer.graph.initializers.first { $0.name == name }?.tensor.shape
            return shape.map { "\($0)" } ?? "?"
        }
        let attributes = node.attributes.compactMap { attribute -> String? in
            switch attribute.value {
            case .int(let v): return "\(attribute.name)=\(v)"
            case .ints(let v): return "\(attribute.name)=\(v.map(String.init).joined(separator: ","))"
            case .string(let v): return "\(attribute.name)=\(String(decoding: v, as: UTF8.self))"
            default: return nil
            }
        }
        return ([node.opType] + shapes + attributes).joined(separator: " ")
    }

    /// The fixed cost of one `Session.run`, in ms: the intercept of run time
    /// against the length of a chain of Identity nodes.
    static func runOverhead(threads: Int, timing: Timing) throws -> Double {
        var rows: [[Double]] = [], targets: [Double] = []
        for length in [1, 4, 16, 64] {
            let b = CaseBuilder()
            var previous = b.activation([1])
            var nodes: [Node] = []
            for i in 0..<length {
                nodes.append(Node(name: "n\(i)", opType: "Identity", inputs: [previous], outputs: ["t\(i)"]))
                previous = "t\(i)"
            }
            var layer = b.build(.reshape, nodes[0])
            layer.graph.nodes = nodes
            layer.graph.outputs = [ValueInfo(name: previous, dtype: nil, dims: nil)]
            let session = try Session(graph: layer.graph, options: SessionOptions(threads: threads))
            rows.append([1, Double(length)])
            targets.append(try timing.median(session, layer.feeds))
        }
        return LinearFit.fit(rows: rows, targets: targets)?.coefficients.first ?? 0
    }

    /// How often to run each configuration.
    struct Timing {
        var warmUps: Int
        var minimumRuns: Int
        var maximumRuns: Int
        /// Keep repeating until this much time was measured (fast ops need many runs).
        var minimumMilliseconds: Double

        init(quick: Bool) {
            warmUps = quick ? 1 : 2
            minimumRuns = quick ? 3 : 5
            maximumRuns = quick ? 100 : 400
            minimumMilliseconds = quick ? 4 : 20
        }

        /// Median wall time in ms of `session.run(feeds)` (outputs released inside the timing,
        /// as a model releases each activation after its last reader).
        func median(_ session: Session, _ feeds: [String: Tensor]) throws -> Double {
            for _ in 0..<warmUps { _ = try session.run(feeds) }
            var times: [Double] = []
            var spent = 0.0
            while times.count < maximumRuns && (times.count < minimumRuns || spent < minimumMilliseconds) {
                let start = Session.now()
                _ = try session.run(feeds)
                let elapsed = (Session.now() - start) * 1000
                times.append(elapsed)
                spent += elapsed
            }
            times.sort()
            let middle = times.count / 2
            return times.count % 2 == 1 ? times[middle] : (times[middle - 1] + times[middle]) / 2
        }
    }
}
