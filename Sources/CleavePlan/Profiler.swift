import CleaveIR
import CleaveRuntime

#if canImport(Glibc)
import Glibc
#endif

/// Measures this machine and fits a `DeviceProfile`, in three steps:
///
/// 1. The fixed cost of one `Session.run`: the intercept of run time against
///    the length of chains of 1 to 64 Identity nodes.
/// 2. Every configuration of the `Sweep` as a one-node graph through
///    `Session` — the same kernels and executor a model uses — after warm-up
///    runs, repeated until enough runs and time were observed; then a
///    non-negative least-squares fit per op kind (`LinearFit`). A node run
///    again and again has everything cached, as in a small model.
/// 3. `SyntheticNetworks`, whole, too big for the cache: what they take
///    beyond the sum of their nodes' predictions is fitted to the context
///    features (output bytes, weight bytes, nodes), the cost of streaming
///    from DRAM that models of that size pay (`DeviceProfile.ContextModel`).
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
        /// Typical milliseconds of the one-node run (run overhead included).
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
                // Predicted like the sample was measured: one node plus one run overhead.
                let predicted = profile.runOverheadMilliseconds + zip(sample.features, model?.coefficients ?? []).reduce(0) { $0 + $1.0 * $1.1 }
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
        let networks = SyntheticNetworks.specs(quick: options.quick)
        let timing = Timing(quick: options.quick, threads: options.threads)
        let total = specs.count + networks.count + 1
        func report(_ done: Int, _ what: String) {
            progress?(Progress(done: done, total: total, kind: what, elapsedSeconds: Session.now() - start))
        }
        let overhead = try runOverhead(threads: options.threads, timing: timing)
        report(1, "run overhead")

        var samples: [Sample] = []
        for (index, spec) in specs.enumerated() {
            samples.append(try measure(spec.make(), threads: options.threads, timing: timing))
            report(index + 2, spec.kind.rawValue)
        }
        var profile = fit(samples, options: options, overhead: overhead, cacheBytes: lastLevelCacheBytes())

        var measured: [(analysis: Analysis, milliseconds: Double)] = []
        for (index, spec) in networks.enumerated() {
            let network = try spec.make()
            let analysis = try Analysis(graph: network.graph)
            let session = try Session(graph: network.graph, options: SessionOptions(threads: options.threads))
            measured.append((analysis, try timing.typical(session, network.feeds, repeats: timing.networkRuns)))
            report(specs.count + index + 2, "network")
        }
        profile.context = fitContext(measured, profile: profile)
        return Result(profile: profile, samples: samples)
    }

    /// Fits one model per kind to `samples`.
    ///
    /// The samples are whole one-node runs, so every one includes the run
    /// overhead; the fit sees them as measured (the relative error of a 1 µs
    /// ReLU stays meaningful) and the overhead is then taken out of the
    /// constant term, since a model pays it once, not once per node.
    static func fit(_ samples: [Sample], options: Options, overhead: Double, cacheBytes: Int) -> DeviceProfile {
        var models: [OpKind: DeviceProfile.KindModel] = [:]
        for kind in OpKind.allCases {
            let mine = samples.filter { $0.kind == kind }
            let features = kind.features
            guard var fit = LinearFit.fit(rows: mine.map(\.features), targets: mine.map(\.milliseconds)) else {
                models[kind] = DeviceProfile.KindModel(features: features, coefficients: features.map { _ in 0 },
                                                       samples: 0, r2: 0, mape: 0)
                continue
            }
            if let constant = features.firstIndex(of: .constant) {
                fit.coefficients[constant] = Swift.max(0, fit.coefficients[constant] - overhead)
            }
            models[kind] = DeviceProfile.KindModel(features: features, coefficients: fit.coefficients,
                                                   samples: mine.count, r2: fit.r2, mape: fit.mape)
        }
        return DeviceProfile(name: options.name, threads: options.threads, slowdown: 1,
                             machine: .current, sweep: options.quick ? "quick" : "full",
                             runOverheadMilliseconds: overhead, cacheBytes: cacheBytes, models: models)
            .slowed(by: options.slowdown)
    }

    /// Fits the context model: per network, measured time minus the run
    /// overhead and the kind models' predictions, against the sums of the
    /// context features over its nodes; relative to the measured time.
    static func fitContext(_ networks: [(analysis: Analysis, milliseconds: Double)], profile: DeviceProfile) -> DeviceProfile.ContextModel {
        let features = DeviceProfile.ContextModel.features
        var rows: [[Double]] = [], residuals: [Double] = [], totals: [Double] = [], base: [Double] = []
        var bare = profile.slowed(by: 1)
        bare.context = .none
        for (analysis, milliseconds) in networks {
            let predicted = bare.predictTotalMilliseconds(graph: analysis.graph, analysis: analysis)
            var sums = [Double](repeating: 0, count: features.count)
            for index in analysis.graph.nodes.indices where OpKind.of(index, in: analysis) != nil {
                let values = featureValues(index, features: features, in: analysis, context: PredictionContext(cold: true))
                for j in sums.indices { sums[j] += values[j] }
            }
            rows.append(sums)
            residuals.append(milliseconds - predicted)
            totals.append(milliseconds)
            base.append(predicted)
        }
        guard let fit = LinearFit.fit(rows: rows, targets: residuals, scales: totals) else { return .none }
        // Quality of the whole prediction (kind models + context) on the networks.
        let predictions = zip(rows, base).map { row, b in b + zip(row, fit.coefficients).reduce(0) { $0 + $1.0 * $1.1 } }
        let mape = zip(predictions, totals).reduce(0) { $0 + abs($1.0 - $1.1) / $1.1 } / Double(Swift.max(1, totals.count))
        let mean = totals.reduce(0, +) / Double(Swift.max(1, totals.count))
        let spread = totals.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        let error = zip(predictions, totals).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        return DeviceProfile.ContextModel(features: features, coefficients: fit.coefficients, samples: networks.count,
                                          r2: spread > 0 ? 1 - error / spread : 0, mape: mape)
    }

    /// Runs one configuration and returns its features and time.
    static func measure(_ layer: LayerCase, threads: Int, timing: Timing) throws -> Sample {
        let analysis = try Analysis(graph: layer.graph)
        let session = try Session(graph: layer.graph, options: SessionOptions(threads: threads))
        let milliseconds = try timing.typical(session, layer.feeds)
        // The kind prediction will assign (a 1×1 Conv of the Conv sweep is pointwise).
        let kind = OpKind.of(0, in: analysis) ?? layer.kind
        let features = featureValues(0, features: kind.features, in: analysis, context: PredictionContext(cold: false))
        // A floor keeps the relative-error weights finite if a clock ever reads 0.
        return Sample(kind: kind, label: describe(layer), features: features, milliseconds: Swift.max(milliseconds, 1e-6))
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
            targets.append(try timing.typical(session, layer.feeds))
        }
        return LinearFit.fit(rows: rows, targets: targets)?.coefficients.first ?? 0
    }

    /// How often to run each configuration, and how to read the clock.
    struct Timing {
        var warmUps: Int
        var minimumRuns: Int
        var maximumRuns: Int
        /// Keep repeating until this much time was measured (fast ops need many runs).
        var minimumMilliseconds: Double
        /// Runs of each synthetic network.
        var networkRuns: Int
        /// At one thread, the process's CPU time: the same as wall time on an
        /// idle machine, but blind to the time other processes take the core
        /// away, so a busy machine still gives a clean profile. With more
        /// threads, wall time (CPU time would add up the threads).
        var cpuClock: Bool

        init(quick: Bool, threads: Int) {
            warmUps = quick ? 1 : 2
            minimumRuns = quick ? 3 : 7
            maximumRuns = quick ? 60 : 400
            minimumMilliseconds = quick ? 3 : 25
            networkRuns = quick ? 3 : 7
            cpuClock = threads == 1
        }

        func now() -> Double {
            var ts = timespec()
            clock_gettime(cpuClock ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts)
            return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
        }

        /// The typical time in ms of `session.run(feeds)`, outputs released
        /// inside the timing (as a model releases each activation after its
        /// last reader): the lower quartile of the runs, which discounts runs
        /// slowed by other processes — taking the core away (wall time) or
        /// competing for the cache and memory (both clocks) — on a shared
        /// machine, and equals the median on an idle one.
        /// - Parameter repeats: exactly this many runs instead of the adaptive count.
        func typical(_ session: Session, _ feeds: [String: Tensor], repeats: Int? = nil) throws -> Double {
            for _ in 0..<warmUps { _ = try session.run(feeds) }
            var times: [Double] = []
            var spent = 0.0
            func more() -> Bool {
                if let repeats { return times.count < repeats }
                return times.count < maximumRuns && (times.count < minimumRuns || spent < minimumMilliseconds)
            }
            while more() {
                let start = now()
                _ = try session.run(feeds)
                let elapsed = (now() - start) * 1000
                times.append(elapsed)
                spent += elapsed
            }
            times.sort()
            return quantile(times, 0.25)
        }
    }
}

/// The `q` quantile of sorted `values` (linear interpolation).
func quantile(_ values: [Double], _ q: Double) -> Double {
    guard !values.isEmpty else { return 0 }
    let position = q * Double(values.count - 1)
    let low = Int(position.rounded(.down)), high = Swift.min(values.count - 1, low + 1)
    return values[low] + (values[high] - values[low]) * (position - Double(low))
}
