import ArgumentParser

/// The plain forms of the commands run most — by status bars, scripts, a user checking — parsed
/// here, word for word, before ArgumentParser is touched at all.
///
/// Why: ArgumentParser's first parse looks up protocol conformances by name (`String(describing:)`
/// of every command type), a linear scan of every conformance record in the binary, which was
/// 40% of `agentctl --version`'s 9 ms (perf). Anything but these exact forms — flags in another
/// order, `--help`, a typo — goes to ArgumentParser as before, so help and errors stay its own.
enum FastPath {
    /// The exit status, or nil when `arguments` is not one of the plain forms.
    static func run(_ arguments: [String]) async -> Int32? {
        switch arguments {
        case ["--version"]:
            print(AgentCtl.version)
            return 0
        case ["status"]:
            return await status { try await Status.show(json: false) }
        case ["status", "--json"]:
            return await status { try await Status.show(json: true) }
        default:
            return nil
        }
    }

    /// Runs a command's body and turns what it throws into its exit status, as ArgumentParser
    /// would.
    private static func status(_ body: () async throws -> Void) async -> Int32 {
        do {
            try await body()
            return 0
        } catch let code as ExitCode {
            return code.rawValue
        } catch {
            print(error: "\(error)")
            return 1
        }
    }
}
