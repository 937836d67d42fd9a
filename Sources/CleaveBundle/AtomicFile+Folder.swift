import CleaveIR
import Foundation

extension AtomicFile {
    /// Renames the finished folder `temporary` to `destination` and makes the
    /// rename durable. An existing `destination` is first moved aside and
    /// removed only once the new folder is in place, so a failure leaves the
    /// old one where it was.
    public static func moveFolderIntoPlace(_ temporary: String, at destination: String) throws {
        let fileManager = FileManager.default
        if fileManager.fileExists(atPath: destination) {
            let old = temporarySibling(of: destination)
            guard rename(destination, old) == 0 else {
                throw CleaveError.io("\(destination): cannot move the old folder aside: \(String(cString: strerror(errno)))")
            }
            guard rename(temporary, destination) == 0 else {
                let reason = String(cString: strerror(errno))
                _ = rename(old, destination)
                throw CleaveError.io("\(destination): cannot rename into place: \(reason)")
            }
            try? fileManager.removeItem(atPath: old)
        } else {
            guard rename(temporary, destination) == 0 else {
                throw CleaveError.io("\(destination): cannot rename into place: \(String(cString: strerror(errno)))")
            }
        }
        syncDirectory(containing: destination)
    }
}
