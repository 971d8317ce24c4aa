import ArgumentParser

/// The plain forms of the commands run most — by status bars, scripts, a user checking, a
/// session's logout script — parsed here, word for word, before ArgumentParser is touched at all.
/// `--version`, `status` and `quit` not on a terminal run before any thread or task is started:
/// they print, or make their calls blocking this thread; `quit` on a terminal (the live line, the
/// keyboard) runs on the executors like the rest.
///
/// Why: ArgumentParser's first parse looks up protocol conformances by name (`String(describing:)`
/// of every command type), a linear scan of every conformance record in the binary, which was
/// 40% of `agentctl --version`'s 9 ms (perf). Anything but these exact forms — flags in another
/// order, `--help`, a typo — goes to ArgumentParser as before, so help and errors stay its own.
enum FastPath {
    /// The exit status, or nil when `arguments` is not one of the plain forms that run without
    /// tasks.
    static func run(_ arguments: [String]) -> Int32? {
        switch arguments {
        case ["--version"]:
            print(AgentCtl.version)
            return 0
        case ["status"]:
            return status { try Status.show(json: false) }
        case ["status", "--json"]:
            return status { try Status.show(json: true) }
        case ["quit"] where !Quit.interactive(json: false, noWait: false):
            return status { try Quit.followPlainly() }
        default:
            return nil
        }
    }

    /// The exit status, or nil when `arguments` is not one of the plain forms that run as tasks.
    static func runAsync(_ arguments: [String]) async -> Int32? {
        switch arguments {
        case ["quit"]:
            do {
                try await Quit.follow()
                return 0
            } catch {
                return status(of: error)
            }
        default:
            return nil
        }
    }

    /// Runs a command's body and turns what it throws into its exit status, as ArgumentParser
    /// would.
    private static func status(_ body: () throws -> Void) -> Int32 {
        do {
            try body()
            return 0
        } catch {
            return status(of: error)
        }
    }

    private static func status(of error: any Error) -> Int32 {
        if let code = error as? ExitCode { return code.rawValue }
        print(error: "\(error)")
        return 1
    }
}
