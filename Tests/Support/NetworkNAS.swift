import Foundation

/// A real network NAS: OpenSSH's sshd on 127.0.0.1 serving a directory, mounted with sshfs
/// (`scripts/rig/nas-sshfs.sh`). The server can be made to stop answering (``hang()``), to go
/// away (``killServer()``) and to come back. Unmounted and stopped, by pid, when released.
public final class NetworkNAS: @unchecked Sendable {
    // Safe: every stored property is set once in init.
    public let directory: TemporaryDirectory
    /// The sshfs mount: the agent's NAS root.
    public let mount: String
    /// The server's own disk behind the mount: what really reached the NAS.
    public let export: String
    private static let script = RigScript("nas-sshfs.sh")

    public init() async throws {
        directory = TemporaryDirectory("quiesce-nas")
        let environment = try await Self.script.start(in: directory, what: "a NAS on sshfs over sshd on 127.0.0.1")
        guard let mount = environment["NAS_MOUNT"], let export = environment["NAS_EXPORT"] else {
            throw PeerMissing(what: "the sshfs rig's mount (its env file: \(directory.file("env")))")
        }
        self.mount = mount
        self.export = export
    }

    deinit {
        Self.script.stop(directory)
    }

    /// The server stops answering; the connection stays up.
    public func hang() async throws { try await rig("hang") }
    public func unhang() async throws { try await rig("unhang") }
    /// The server goes away: the connection is lost.
    public func killServer() async throws { try await rig("kill-server") }
    public func restartServer() async throws { try await rig("restart-server") }

    private func rig(_ command: String) async throws {
        let result = try await Self.script.run(command, in: directory)
        guard result.status == 0 else {
            throw PeerMissing(what: "the sshfs rig's \(command) (\(result.output))")
        }
    }
}
