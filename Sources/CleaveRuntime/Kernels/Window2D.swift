import CleaveIR

/// A 1-D or 2-D `WindowGeometry` seen as 2-D (a 1-D window gets a unit
/// height), the form the fast convolution and pooling loops take.
struct Window2D {
    var height, width: Int
    var outHeight, outWidth: Int
    var kernelHeight, kernelWidth: Int
    var strideHeight, strideWidth: Int
    var dilationHeight, dilationWidth: Int
    var padTop, padLeft: Int
    var padBottom, padRight: Int

    /// nil for windows of more than two spatial dims.
    /// - Parameters:
    ///   - input: the spatial dims the window reads (for ConvTranspose, which
    ///     scatters, the dims it writes).
    ///   - output: the grid of window positions; `g.output` unless given.
    init?(_ g: WindowGeometry, input: [Int], output: [Int]? = nil) {
        let output = output ?? g.output
        switch g.spatialRank {
        case 1:
            (height, width) = (1, input[0])
            (outHeight, outWidth) = (1, output[0])
            (kernelHeight, kernelWidth) = (1, g.kernel[0])
            (strideHeight, strideWidth) = (1, g.strides[0])
            (dilationHeight, dilationWidth) = (1, g.dilations[0])
            (padTop, padLeft, padBottom, padRight) = (0, g.padsBegin[0], 0, g.padsEnd[0])
        case 2:
            (height, width) = (input[0], input[1])
            (outHeight, outWidth) = (output[0], output[1])
            (kernelHeight, kernelWidth) = (g.kernel[0], g.kernel[1])
            (strideHeight, strideWidth) = (g.strides[0], g.strides[1])
            (dilationHeight, dilationWidth) = (g.dilations[0], g.dilations[1])
            (padTop, padLeft, padBottom, padRight) = (g.padsBegin[0], g.padsBegin[1], g.padsEnd[0], g.padsEnd[1])
        default:
            return nil
        }
    }

    /// Kernel taps `first..<end` whose positions `start + tap·dilation` fall in
    /// `0..<size`; empty when none do.
    @inline(__always)
    static func validTaps(start: Int, dilation: Int, taps: Int, size: Int) -> (first: Int, end: Int) {
        let first = start >= 0 ? 0 : (-start + dilation - 1) / dilation
        let last = size - 1 - start
        let end = last < 0 ? 0 : Swift.min(taps, last / dilation + 1)
        return (first, Swift.max(first, end))
    }

    /// Output positions `first..<end` (of `count`) at which `position·stride +
    /// offset` falls in `0..<size`.
    @inline(__always)
    static func validOutputs(offset: Int, stride: Int, count: Int, size: Int) -> (first: Int, end: Int) {
        let first = Swift.min(count, offset >= 0 ? 0 : (-offset + stride - 1) / stride)
        let last = size - 1 - offset
        let end = last < 0 ? 0 : Swift.min(count, last / stride + 1)
        return (first, Swift.max(first, end))
    }
}
