import CFileSystem
import Glibc

/// Copies one file into a directory of the NAS root, durably and verifiably.
///
/// The steps, each of which a crash can interrupt without leaving a torn file under the final
/// name:
/// 1. stream the source into `.<name>.quiesce-partial` beside the target, hashing the source as it
///    goes, in chunks of ``chunkSize`` (memory stays bounded for multi-GiB files), starting the
///    disk's writeback every ``writebackStride`` bytes so it runs while the copy goes on. Where the
///    filesystem allows it the kernel moves the bytes (`copy_file_range`, as coreutils `cp` does)
///    and the hash reads the source range just copied; across filesystems (`EXDEV`, the usual case
///    for a NAS mount) it falls back to `read` and `write`;
/// 2. read the partial file back, comparing size and checksum (while the disk catches up);
/// 3. `fsync` the partial file, then check the source did not change (size, modification time);
/// 4. move it to its name atomically: over the file this agent wrote there before from the same
///    source, otherwise only where the name is free (`RENAME_NOREPLACE`), so nothing on the NAS
///    is replaced by surprise (``target(for:in:source:shownDirectory:abort:)`` chooses the name);
/// 5. `fsync` the directory, so the rename itself survives a power cut. A failure here is not a
///    success (``CopyError/notDurable(path:reason:landed:)``): the job is copied again.
///
/// Blocking system calls throughout, which on a network NAS can block for as long as its server
/// does not answer: the agent runs it in a process of its own (`quiesce-copy`,
/// ``CopierProcess``), which it can abandon; tests and embedding programs may call it directly on a
/// thread of their own, never on the cooperative pool.
public struct FileCopier: Sendable {
    /// Bytes per read and write.
    public static let chunkSize = 1 << 20
    /// How much is written before its writeback is started.
    public static let writebackStride = 8 << 20

    public let root: NASRoot
    /// Whether to try `copy_file_range` first. Off only in tests of the fallback.
    let kernelCopy: Bool

    public init(root: NASRoot) {
        self.init(root: root, kernelCopy: true)
    }

    init(root: NASRoot, kernelCopy: Bool) {
        self.root = root
        self.kernelCopy = kernelCopy
    }

    /// Copies `request.source` into `request.destination` (relative to the root), under the
    /// source's own name unless that name is taken by a file this agent may not replace (see
    /// ``target(for:in:sourceFile:shownDirectory:)``). On any failure the partial file is removed.
    public func copy(_ request: CopyRequest, abort: AbortFlag) throws(CopyError) -> CopyResult {
        let source = request.source
        let name = request.name
        guard !name.isEmpty, name != ".", name != ".." else { throw .sourceNotAFile(path: source) }

        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw .sourceUnreadable(path: source, reason: describe(errno)) }
        defer { close(input) }
        var before = stat()
        guard fstat(input, &before) == 0 else { throw .sourceUnreadable(path: source, reason: describe(errno)) }
        guard before.st_mode & S_IFMT == S_IFREG else { throw .sourceNotAFile(path: source) }

        let directory = try root.openDirectory(request.destination, create: true)
        defer { close(directory) }
        let shownDirectory = request.destination.isEmpty ? root.path : "\(root.path)/\(request.destination)"
        let partial = NASRoot.partialName(for: name)
        let shownPartial = "\(shownDirectory)/\(name)"
        var sourceDigest = SourceDigest(descriptor: input, path: source, size: Int64(before.st_size))

        var target = try self.target(for: request, in: directory, source: &sourceDigest, shownDirectory: shownDirectory, abort: abort)
        if case .done(let result) = target {
            // Found there already (an earlier attempt landed it): its partial name may still be
            // a second link to the landed file, left when that attempt was cut off between the
            // link and the unlink of the no-replace placement. Ours to remove: copies of one name
            // into one folder never run at once.
            _ = unlinkat(directory, partial, 0)
            return result
        }

        // A partial file from an interrupted attempt (or anything else by that name) goes first;
        // O_EXCL | O_NOFOLLOW then guarantees we write a file of our own, not through a link.
        _ = unlinkat(directory, partial, 0)
        var output = openat(directory, partial, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard output >= 0 else { throw NASRoot.writeError(errno, path: shownPartial) }
        var placed = false
        defer {
            if output >= 0 { close(output) }
            if !placed { _ = unlinkat(directory, partial, 0) }
        }

        let written = try stream(from: input, to: output, source: source, target: shownPartial, abort: abort)
        let readBack = try checksum(of: output, path: shownPartial, abort: abort)
        guard readBack == written else {
            throw .verificationFailed(
                path: shownPartial, expected: "\(written.size) bytes, \(written.checksum)",
                found: "\(readBack.size) bytes, \(readBack.checksum)")
        }
        guard fsync(output) == 0 else { throw NASRoot.writeError(errno, path: shownPartial) }
        // Closed before it is placed: a network filesystem may report a write error only at close
        // (NFS does), and sshfs would merely hide a file still open when its partial name is
        // removed after the hard link that places it, leaving the name behind.
        let closed = close(output)
        output = -1
        guard closed == 0 else { throw NASRoot.writeError(errno, path: shownPartial) }

        var after = stat()
        guard fstat(input, &after) == 0 else { throw .sourceUnreadable(path: source, reason: describe(errno)) }
        guard after.st_size == before.st_size, after.st_mtim.tv_sec == before.st_mtim.tv_sec,
            after.st_mtim.tv_nsec == before.st_mtim.tv_nsec, Int64(after.st_size) == written.size
        else { throw .sourceChanged(path: source) }
        sourceDigest.known = written

        // A name taken between the choice and the rename sends us back to choosing (at most a
        // few times: something is racing us).
        for _ in 0..<4 {
            if abort.isRaised { throw .aborted }
            guard case .write(let targetName, let replace, let outcome) = target else { break }
            let shown = "\(shownDirectory)/\(targetName)"
            switch place(partial, as: targetName, replacing: replace, in: directory) {
            case .placed:
                placed = true
                let result = CopyResult(size: written.size, checksum: written.checksum, name: targetName, outcome: outcome)
                guard fsync(directory) == 0 else {
                    var landed = result.landing
                    landed.confirmed = false
                    throw .notDurable(path: shown, reason: "fsync of the directory: \(describe(errno))", landed: landed)
                }
                return result
            case .taken:
                target = try self.target(for: request, in: directory, source: &sourceDigest, shownDirectory: shownDirectory, abort: abort)
                if case .done(let result) = target { return result }
            case .failed(let code):
                if code == EISDIR { throw .destinationIsDirectory(path: shown) }
                throw NASRoot.writeError(code, path: shown)
            }
        }
        throw .io(operation: "placing", path: shownPartial, reason: "its name kept being taken while it was copied")
    }

    private func stream(
        from input: Int32, to output: Int32, source: String, target: String, abort: AbortFlag
    ) throws(CopyError) -> Digest {
        var hash = XXH64()
        var size: Int64 = 0
        var flushed: Int64 = 0
        var inKernel = kernelCopy
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunkSize, alignment: 4096)
        defer { buffer.deallocate() }
        while true {
            if abort.isRaised { throw .aborted }
            let count: Int
            if inKernel {
                var from = size
                var to = size
                count = quiesce_copy_file_range(input, &from, output, &to, UInt(Self.chunkSize))
                if count < 0 {
                    switch errno {
                    case EINTR: continue
                    case EXDEV, EINVAL, ENOSYS, EOPNOTSUPP, EBADF:
                        // This pair of filesystems cannot copy in the kernel: copy by hand.
                        inKernel = false
                        _ = lseek(input, off_t(size), SEEK_SET)
                        _ = lseek(output, off_t(size), SEEK_SET)
                        continue
                    case ENOSPC, EDQUOT, EROFS, EACCES, EPERM: throw NASRoot.writeError(errno, path: target)
                    default: throw .io(operation: "copying to", path: target, reason: describe(errno))
                    }
                }
                if count == 0 { break }
                try hashRange(of: input, at: size, count: count, into: &hash, buffer: buffer, path: source)
            } else {
                count = read(input, buffer.baseAddress, buffer.count)
                if count < 0 {
                    if errno == EINTR { continue }
                    throw .sourceUnreadable(path: source, reason: describe(errno))
                }
                if count == 0 { break }
                let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
                hash.update(chunk)
                var offset = 0
                while offset < count {
                    let done = write(output, chunk.baseAddress! + offset, count - offset)
                    if done < 0 {
                        if errno == EINTR { continue }
                        throw NASRoot.writeError(errno, path: target)
                    }
                    offset += done
                }
            }
            size += Int64(count)
            if size - flushed >= Int64(Self.writebackStride) {
                // Best effort: a filesystem without it just leaves the work to fsync.
                _ = quiesce_start_writeback(output, flushed, size - flushed)
                flushed = size
            }
        }
        return Digest(size: size, checksum: hash.hexDigest())
    }

    /// Hashes `count` bytes of `descriptor` from `offset`: the source range the kernel just copied.
    private func hashRange(
        of descriptor: Int32, at offset: Int64, count: Int, into hash: inout XXH64,
        buffer: UnsafeMutableRawBufferPointer, path: String
    ) throws(CopyError) {
        var done = 0
        while done < count {
            let got = pread(descriptor, buffer.baseAddress, min(buffer.count, count - done), off_t(offset) + off_t(done))
            if got < 0 {
                if errno == EINTR { continue }
                throw .sourceUnreadable(path: path, reason: describe(errno))
            }
            if got == 0 { throw .sourceChanged(path: path) }
            hash.update(UnsafeRawBufferPointer(rebasing: buffer[0..<got]))
            done += got
        }
    }

    /// Reads `descriptor` from the start and hashes it.
    func checksum(of descriptor: Int32, path: String, abort: AbortFlag) throws(CopyError) -> Digest {
        var hash = XXH64()
        var size: Int64 = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunkSize, alignment: 4096)
        defer { buffer.deallocate() }
        while true {
            if abort.isRaised { throw .aborted }
            let count = pread(descriptor, buffer.baseAddress, buffer.count, off_t(size))
            if count < 0 {
                if errno == EINTR { continue }
                throw .io(operation: "reading back", path: path, reason: describe(errno))
            }
            if count == 0 { break }
            hash.update(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            size += Int64(count)
        }
        return Digest(size: size, checksum: hash.hexDigest())
    }
}

/// The size and checksum of some bytes.
struct Digest: Sendable, Hashable {
    var size: Int64
    var checksum: String
}
