import CleaveIR

/// Scalar reference kernels: the ONNX definitions written out literally, one
/// output element at a time, with explicit pads. They are the oracle for the
/// BLAS-backed kernels; slow by design.
enum Naive {
    /// Row-major coordinates of flat `index` in `dims`.
    static func coordinates(_ index: Int, _ dims: [Int]) -> [Int] {
        var rest = index
        var result = [Int](repeating: 0, count: dims.count)
        for d in dims.indices.reversed() {
            result[d] = rest % dims[d]
            rest /= dims[d]
        }
        return result
    }

    /// Flat index of `coordinates` in `dims`, nil when outside.
    static func flat(_ coordinates: [Int], _ dims: [Int]) -> Int? {
        var index = 0
        for d in dims.indices {
            guard coordinates[d] >= 0, coordinates[d] < dims[d] else { return nil }
            index = index * dims[d] + coordinates[d]
        }
        return index
    }

    /// Input position of kernel tap `k` for the window at output `o` (spatial
    /// coordinates start at `o[first]`): o·s − pb + k·d per dim.
    static func tapPosition(_ o: [Int], first: Int, _ k: [Int], strides: [Int], dilations: [Int],
                            padsBegin: [Int]) -> [Int] {
        var position: [Int] = []
        for d in k.indices {
            let start: Int = o[first + d] * strides[d] - padsBegin[d]
            position.append(start + k[d] * dilations[d])
        }
        return position
    }

    /// Conv: y[n, m, o] = b[m] + Σ_{c in m's group, k} x[n, c, o·s − pb + k·d] · w[m, c − group start, k].
    static func conv(_ x: Tensor, _ w: Tensor, _ b: Tensor?, group: Int, strides: [Int], dilations: [Int],
                     padsBegin: [Int], padsEnd: [Int]) -> Tensor {
        let xs = x.shape.dims, ws = w.shape.dims
        let n = xs.count - 2
        let inSpatial = Array(xs[2...]), kernel = Array(ws[2...])
        var outDims: [Int] = [xs[0], ws[0]]
        for d in 0..<n {
            let span: Int = inSpatial[d] + padsBegin[d] + padsEnd[d] - (kernel[d] - 1) * dilations[d] - 1
            outDims.append(span / strides[d] + 1)
        }
        let xv = x.floats, wv = w.floats, bv = b?.floats
        let cg = ws[1], mg = ws[0] / group
        var y = [Float](repeating: 0, count: outDims.reduce(1, *))
        for index in y.indices {
            let o = coordinates(index, outDims)
            let batch = o[0], m = o[1], g = m / mg
            var sum = bv?[m] ?? 0
            for c in 0..<cg {
                for tap in 0..<kernel.reduce(1, *) {
                    let k = coordinates(tap, kernel)
                    let position = tapPosition(o, first: 2, k, strides: strides, dilations: dilations,
                                               padsBegin: padsBegin)
                    let channel: Int = g * cg + c
                    guard let at = flat([batch, channel] + position, xs) else { continue }
                    sum += xv[at] * wv[(m * cg + c) * kernel.reduce(1, *) + tap]
                }
            }
            y[index] = sum
        }
        return Tensor(Shape(outDims), floats: y)
    }

    /// 2-D Conv with group 1 as plain nested loops: the same definition as
    /// `conv`, fast enough in debug builds for images of a few thousand pixels.
    static func conv2D(_ x: Tensor, _ w: Tensor, strides: [Int], pads: [Int]) -> Tensor {
        let (c, h, wd) = (x.shape[1], x.shape[2], x.shape[3])
        let (m, kh, kw) = (w.shape[0], w.shape[2], w.shape[3])
        let oh = (h + pads[0] + pads[2] - kh) / strides[0] + 1
        let ow = (wd + pads[1] + pads[3] - kw) / strides[1] + 1
        let xv = x.floats, wv = w.floats
        var y = [Float](repeating: 0, count: m * oh * ow)
        for o in 0..<m {
            for i in 0..<oh {
                for j in 0..<ow {
                    var sum: Float = 0
                    for ci in 0..<c {
                        for a in 0..<kh {
                            let row = i * strides[0] - pads[0] + a
                            if row < 0 || row >= h { continue }
                            for b in 0..<kw {
                                let column = j * strides[1] - pads[1] + b
                                if column < 0 || column >= wd { continue }
                                sum += xv[(ci * h + row) * wd + column] * wv[((o * c + ci) * kh + a) * kw + b]
                            }
                        }
                    }
                    y[(o * oh + i) * ow + j] = sum
                }
            }
        }
        return Tensor([1, m, oh, ow], floats: y)
    }

    /// ConvTranspose: each input element scatters x·w into y[n, m, i·s − pb + k·d].
    static func convTranspose(_ x: Tensor, _ w: Tensor, _ b: Tensor?, group: Int, strides: [Int],
                              dilations: [Int], padsBegin: [Int], outSpatial: [Int]) -> Tensor {
        let xs = x.shape.dims, ws = w.shape.dims
        let kernel = Array(ws[2...]), taps = kernel.reduce(1, *)
        let cg = xs[1] / group, mg = ws[1]
        let outDims = [xs[0], mg * group] + outSpatial
        let xv = x.floats, wv = w.floats, bv = b?.floats
        var y = [Float](repeating: 0, count: outDims.reduce(1, *))
        for index in y.indices { y[index] = bv?[coordinates(index, outDims)[1]] ?? 0 }
        for index in xv.indices {
            let i = coordinates(index, xs)
            let c = i[1], g = c / cg
            for mo in 0..<mg {
                for tap in 0..<taps {
                    let k = coordinates(tap, kernel)
                    let position = tapPosition(i, first: 2, k, strides: strides, dilations: dilations,
                                               padsBegin: padsBegin)
                    let channel: Int = g * mg + mo
                    guard let at = flat([i[0], channel] + position, outDims) else { continue }
                    y[at] += xv[index] * wv[(c * mg + mo) * taps + tap]
                }
            }
        }
        return Tensor(Shape(outDims), floats: y)
    }

    /// Pool output size with ONNX Runtime's ceil_mode rule (the last window must start inside input or left pad).
    static func poolOutput(_ input: Int, kernel: Int, stride: Int, dilation: Int, padBegin: Int, padEnd: Int,
                           ceil: Bool) -> Int {
        let span = input + padBegin + padEnd - (kernel - 1) * dilation - 1
        var out = (ceil ? (span + stride - 1) / stride : span / stride) + 1
        if ceil && (out - 1) * stride >= input + padBegin { out -= 1 }
        return out
    }

    /// MaxPool / AveragePool. Returns the values and MaxPool's flat argmax indices.
    static func pool(_ x: Tensor, max isMax: Bool, kernel: [Int], strides: [Int], dilations: [Int],
                     padsBegin: [Int], padsEnd: [Int], ceil: Bool, countIncludePad: Bool,
                     columnMajor: Bool = false) -> (Tensor, [Int64]) {
        let xs = x.shape.dims, n = kernel.count
        let inSpatial = Array(xs[2...])
        var outDims: [Int] = Array(xs[..<2])
        for d in 0..<n {
            outDims.append(poolOutput(inSpatial[d], kernel: kernel[d], stride: strides[d], dilation: dilations[d],
                                      padBegin: padsBegin[d], padEnd: padsEnd[d], ceil: ceil))
        }
        let xv = x.floats, plane = inSpatial.reduce(1, *)
        var y = [Float](repeating: 0, count: outDims.reduce(1, *))
        var indices = [Int64](repeating: 0, count: y.count)
        for index in y.indices {
            let o = coordinates(index, outDims)
            var best = -Float.infinity, bestAt = 0, sum: Float = 0, inside = 0, padded = 0
            for tap in 0..<kernel.reduce(1, *) {
                let k = coordinates(tap, kernel)
                let position = tapPosition(o, first: 2, k, strides: strides, dilations: dilations, padsBegin: padsBegin)
                var inPadded = true
                for d in 0..<n where position[d] < -padsBegin[d] || position[d] >= inSpatial[d] + padsEnd[d] {
                    inPadded = false
                }
                if inPadded { padded += 1 }
                guard let at = flat(Array(o[..<2]) + position, xs) else { continue }
                inside += 1
                sum += xv[at]
                if xv[at] > best {
                    best = xv[at]
                    var spatial = 0, step = 1
                    for d in 0..<n {
                        let axis = columnMajor ? d : n - 1 - d
                        spatial += position[axis] * step
                        step *= inSpatial[axis]
                    }
                    bestAt = (o[0] * xs[1] + o[1]) * plane + spatial
                }
            }
            y[index] = isMax ? best : sum / Float(countIncludePad ? padded : inside)
            indices[index] = Int64(bestAt)
        }
        return (Tensor(Shape(outDims), floats: y), indices)
    }

    /// C[m×n] = alpha·op(A)·op(B) + beta·C, C given as full [m, n] values.
    static func gemm(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int, transA: Bool, transB: Bool,
                     alpha: Float, beta: Float, c: [Float]?) -> [Float] {
        var y = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var sum: Float = 0
                for p in 0..<k {
                    sum += (transA ? a[p * m + i] : a[i * k + p]) * (transB ? b[j * k + p] : b[p * n + j])
                }
                y[i * n + j] = alpha * sum + beta * (c?[i * n + j] ?? 0)
            }
        }
        return y
    }

    /// Values of `t` broadcast (NumPy rules) to `dims`.
    static func broadcast(_ t: Tensor, to dims: [Int]) -> [Float] {
        let own = [Int](repeating: 1, count: dims.count - t.shape.rank) + t.shape.dims
        let values = t.floats
        return (0..<dims.reduce(1, *)).map { index in
            let c = coordinates(index, dims)
            var source: [Int] = []
            for d in dims.indices { source.append(own[d] == 1 ? 0 : c[d]) }
            return values[flat(source, own) ?? 0]
        }
    }
}
