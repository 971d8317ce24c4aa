/// Turns at the one systemd-logind a machine can run: logind keeps its state in /run/systemd, so
/// two rigs with logind at once would fight over it. Every suite that starts logind (a `LogindRig`,
/// the rig script) waits for its turn here, whatever suite it is in and however Swift Testing
/// schedules them.
public actor LogindTurn {
    public static let shared = LogindTurn()
    private var taken = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    /// Waits until no one else runs logind.
    public func take() async {
        if !taken {
            taken = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    /// Hands the turn to the next in line.
    public func give() {
        if waiting.isEmpty {
            taken = false
        } else {
            waiting.removeFirst().resume()
        }
    }

    /// Gives the turn back from a synchronous context (a deinit).
    public nonisolated func giveSoon() {
        Task { await give() }
    }
}
