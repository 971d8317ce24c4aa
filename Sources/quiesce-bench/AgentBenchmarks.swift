import Foundation
import QuiesceDBus
import QuiesceInterface
import QuiesceSpawn

/// The agent as a user meets it: the real `agentd` and `agentctl` (release builds) on the rig.
enum AgentBenchmarks {
    /// `Quit` received → agentd has exited, for an idle agent; beside the floor of this process's
    /// exit (an idle agentd killed with SIGKILL until it is reaped: the kernel's part, which grows
    /// with what the process maps) and of any process's.
    static func quitToExit(sessionBus: String, rounds: Int) async throws -> Row {
        let control = try await BusConnection.open(address: sessionBus, label: "bench control")
        defer { control.close() }
        var quits = Samples()
        var killed = Samples()
        var floor = Samples()
        var resident: [Int] = []
        for _ in 0..<rounds {
            let agent = try await AgentProcess(sessionBus: sessionBus, systemBus: nil, control: control)
            try await agent.waitUntilIdle(control: control)
            let reaper = try Reaper(agent.pid)
            let start = ContinuousClock.now
            try await control.quitAgent()
            let reaped = await reaper.reaped()
            quits.append(start.duration(to: reaped.instant))
            guard reaped.status == 0 else { throw BenchmarkError(message: "agentd exited \(reaped.status) after an idle quit; see \(agent.home)/agentd.log") }

            let victim = try await AgentProcess(sessionBus: sessionBus, systemBus: nil, control: control)
            try await victim.waitUntilIdle(control: control)
            resident.append(residentKilobytes(victim.pid))
            killed.append(killToReaped(victim.pid))
            floor.append(try await killToReaped())
        }
        let added = quits.median - killed.median
        let goal = Duration.milliseconds(2)
        let megabytes = Double(resident.sorted()[resident.count / 2]) / 1024
        return Row(
            what: "`Quit` received → agentd exited, idle agent (n=\(quits.count))",
            baseline: """
                SIGKILL → reaped, the same idle agentd (\(String(format: "%.1f", megabytes)) MB resident): median \(killed.median.readable); \
                any small process: median \(floor.median.readable)
                """,
            goal: "≤ \(goal.readable) median above the agent's own SIGKILL → reaped",
            measured: "median \(quits.median.readable), p99 \(quits.p99.readable): \(added.readable) above its SIGKILL",
            passed: added <= goal,
            howToRead: """
                from sending `Quit` to an idle agent to the moment its process has been reaped, as a \
                thread of the bench already blocked in `waitpid` sees it (as the baseline is timed; \
                a thread started and a task resumed after the exit used to add 0.1–0.3 ms): the \
                drain (nothing to wait for), stopping the worker, the logind bridge and the D-Bus \
                service, closing the database (SQLite folds its log in), and the process's own exit. The \
                first baseline is the kernel's part for this very process: an exit unmaps everything \
                the process has mapped before its parent hears of it, about 0.1 ms a resident MB on \
                this VM (a C program with 22 MB of touched memory: 2.9 ms; with 1 MB: 0.25 ms), so an \
                agent with the Swift runtime and Foundation linked in cannot exit in the 0.2 ms of a \
                small process; the goal is on what the agent adds to it. The trigger that finds \
                nothing running decides to stop within its own step (the work sources are read at \
                once, and the window's timer and the work-following tasks it would have started are \
                never started), teardown stops the components one after another in one task under \
                one timer, and the store closes without a checkpoint of its own (SQLite's close \
                does it). Since: the caller's uid is asked of the bus when it first reads a \
                property (as here and as agentctl does), not by its `Quit` (0.23 ms → 7 µs); \
                a message sent from a task no longer wakes the connection's queue thread for \
                nothing; the announcements a quit causes run at utility priority, after the quit's \
                own steps (decision → teardown 0.31 → 0.09 ms), and they and the tasks that follow \
                events are cancelled at the end, not waited for (0.3 ms); a quit is rehearsed on a \
                copy of the state machine at start (the decision 0.41 → 0.25 ms); the agent keeps its \
                bus names until its connection closes, after the database has (no `ReleaseName` of \
                its own or the tray's, whose `NameLost` and `NameOwnerChanged` the quit then had to \
                read: 0.2–0.4 ms; and a client that sees the name go finds the database free); a \
                thread waiting for the connection's queue is handed it by the one before it (one \
                wake-up instead of three: the quit's sends and the announcements meet there); the \
                store's close no longer looks 2,000 times for a check thread that has ended (a \
                `for … where` loop that did not stop at the first look: 0.1–0.25 ms, A/B over 40 \
                quits each); the properties are compared field by field, not as two dictionaries \
                of all eleven made for every event (six of a quit's events change none); the \
                properties are announced from the connection's queue, changes made meanwhile in one \
                signal, so an idle quit sends one `PropertiesChanged` instead of five (three of them \
                a window's end read again a millisecond apart) and no step waits to send it (0.7–1 ms, \
                A/B over 40 quits each). Where it went before those last three (the agent timing \
                its own steps, 30 quits, medians, from the call's arrival: 2.0–2.1 ms to `_exit`, \
                2.1–2.5 before this round): the call reaching its handler 0.2 ms, the decision \
                0.25, the D-Bus service's stop 0.4 (waiting to send the outcome, now queued), the \
                store's close 0.4–0.5 (the check-thread loop, now gone, and SQLite's own close: \
                unlinking its log and shared-memory files and unmapping the latter), closing the \
                bus connections 0.15–0.3 ms. Then (the agent's own marks, 20 quits, medians): the \
                lock file's pid is written over the old one instead of after truncating the file to \
                nothing, which ext4 takes for a file being replaced and writes out at its close \
                (`auto_da_alloc`: the close 0.1 ms → 10 µs); the parts' subscriptions end without \
                a `RemoveMatch` each once the agent says its connections are leaving (the service's \
                stop, which waited behind them on the connection's queue, 0.1 ms → 16 µs); and the \
                store's stop closes the connections right after the database, instead of once the \
                coordinator has reported the stop and the agent's task resumed (0.13–0.3 ms). The \
                machine's noise is as large as the \
                margin: the same build measured 2.4–3.8 ms above its SIGKILL in runs an hour \
                apart, as the C client's round trip in the D-Bus row went from 0.17 to 0.39 ms.
                """)
    }

    /// `agentctl quit` end to end (the agent idle) vs `agentctl --version`, the floor of starting
    /// the CLI at all.
    static func agentctlQuit(sessionBus: String, rounds: Int) async throws -> Row {
        let control = try await BusConnection.open(address: sessionBus, label: "bench control")
        defer { control.close() }
        let agentctl = AgentProcess.sibling("agentctl")
        var quits = Samples()
        var versions = Samples()
        for _ in 0..<rounds {
            let agent = try await AgentProcess(sessionBus: sessionBus, systemBus: nil, control: control)
            try await agent.waitUntilIdle(control: control)
            let environment = ["DBUS_SESSION_BUS_ADDRESS": sessionBus, "HOME": agent.home, "PATH": "/usr/bin:/bin"]
            quits.append(try await timed(agentctl, ["quit"], environment: environment, expecting: 0))
            _ = await agent.exit()
            versions.append(try await timed(agentctl, ["--version"], environment: environment, expecting: 0))
        }
        let ratio = quits.median.milliseconds / versions.median.milliseconds
        return Row(
            what: "`agentctl quit` end to end, idle agent (n=\(quits.count))",
            baseline: "`agentctl --version`: median \(versions.median.readable)",
            goal: "≤ 2× the floor (median)",
            measured: "median \(quits.median.readable), p99 \(quits.p99.readable) = \(ratio.ratio)",
            passed: ratio <= 2,
            howToRead: """
                the whole command as a user types it: start, connect to the bus, subscribe, `Quit`, \
                follow the drain until the agent has left the bus, exit. `agentctl --version` is the \
                cost of starting the program at all, so the ratio is what quitting adds. Not on a \
                terminal (as here, and in scripts and logout hooks) the command runs on its main \
                thread alone over a `BlockingBusConnection`: `Hello`, the subscriptions, the \
                agent's properties and `Quit` go out together, one round trip (`Hello` used to be \
                waited for first, and `Quit` sent only once the rest was answered: two round trips \
                more), then the agent's signals are read as they come (over the event loop's \
                threads and ArgumentParser it was 3.1–3.2×). The agent asks the bus who the caller \
                is as the caller's first message is read, from the connection's queue, so `Quit` \
                arriving right behind `GetAll` does not wait for a task to start before that \
                question goes out. About half of what remains is the agent's own: from `Quit` to \
                its name leaving the bus, see the row above. The command ends with `_exit` once its \
                output is flushed (the C library's and the libraries' exit handlers cost it \
                0.4–0.5 ms, A/B over 30 quits each), finds the bus with `getenv` instead of a \
                dictionary of its whole environment, and writes its match rules without generic \
                `joined`/`split` (a generic type's first use by name makes the Swift runtime walk \
                all 3,800 protocol conformances in the binary). The agent follows its clients' \
                departures with a rule the bus matches on the empty new owner, so the command's own \
                `Hello`, read just before its calls, no longer wakes the agent's threads. 40 \
                rounds: with 20 the median \
                ratio moved by ±0.1 between runs of the same build, as the floor did by 20%.
                """)
    }

    /// The delay an idle agent adds to a shutdown (`PowerOff`) or a sleep (`Suspend`): real logind
    /// on the rig, from the call to `PrepareFor…(false)` (logind announces it once the mock's
    /// `StartUnit` job is done), with the agent holding its delay lock vs no agent at all.
    static func systemDelay(sleep: Bool, sessionBus: String, systemBus: String, cycles: Int) async throws -> Row {
        let control = try await BusConnection.open(address: sessionBus, label: "bench control")
        let system = try await BusConnection.open(address: systemBus, label: "bench system")
        defer {
            control.close()
            system.close()
        }
        let logind = LogindManager(connection: system)
        var announcements = try await (sleep ? logind.prepareForSleep() : logind.prepareForShutdown()).makeAsyncIterator()
        func cycle() async throws -> Duration {
            let clock = ContinuousClock()
            let start = clock.now
            if sleep { try await logind.suspend() } else { try await logind.powerOff() }
            guard await announcements.next() == true, await announcements.next() == false else {
                throw BenchmarkError(message: "logind did not announce the \(sleep ? "sleep" : "shutdown") and its end")
            }
            return start.duration(to: clock.now)
        }
        func agentLocks() async throws -> Int { try await logind.listInhibitors().filter { $0.who == "Quiesce" }.count }

        var without = Samples()
        for _ in 0..<cycles { without.append(try await cycle()) }

        let agent = try await AgentProcess(sessionBus: sessionBus, systemBus: systemBus, control: control)
        var with = Samples()
        for _ in 0..<cycles {
            // Not timed: the agent re-takes its lock after each (false).
            for _ in 0..<2500 where try await agentLocks() == 0 { try await Task.sleep(for: .milliseconds(2)) }
            guard try await agentLocks() == 1 else { throw BenchmarkError(message: "the agent holds no delay lock") }
            with.append(try await cycle())
        }
        try await control.quitAgent(force: true)
        _ = await agent.exit()

        let added = with.p99 - without.p99
        let goal = Duration.milliseconds(10)
        let what = sleep ? "Sleep delay an idle agent adds (`Suspend`)" : "Shutdown delay an idle agent adds (`PowerOff`)"
        return Row(
            what: "\(what), real logind (n=\(with.count))",
            baseline: "no agent: median \(without.median.readable), p99 \(without.p99.readable)",
            goal: "≤ \(goal.readable) added at p99",
            measured: "with the agent: median \(with.median.readable), p99 \(with.p99.readable); added at p99: \(added.readable)",
            passed: added <= goal,
            howToRead: """
                from calling logind's `\(sleep ? "Suspend" : "PowerOff")` to logind announcing \
                `\(sleep ? "PrepareForSleep" : "PrepareForShutdown")(false)`, which it does once the \
                service manager (python-dbusmock: nothing really \(sleep ? "sleeps" : "powers off")) has \
                run the target. With the agent, logind first waits for its delay lock: the agent \
                drains (idle, so at once), checkpoints its database and closes the lock's fd.
                """)
    }

    /// Runs a program to completion and returns its wall time.
    /// `agentctl status` against `busctl --user get-property` on the same agent (systemd's C
    /// client: start, connect, one call, print), alternating which goes first; beside it
    /// `agentctl --version` against a C hello world, the floor of starting a program at all.
    static func statusVersusBusctl(sessionBus: String, hello: String, rounds: Int) async throws -> Row {
        let control = try await BusConnection.open(address: sessionBus, label: "bench control")
        defer { control.close() }
        let agent = try await AgentProcess(sessionBus: sessionBus, systemBus: nil, control: control)
        let agentctl = AgentProcess.sibling("agentctl")
        let environment = ["DBUS_SESSION_BUS_ADDRESS": sessionBus, "HOME": agent.home, "PATH": "/usr/bin:/bin"]
        let busctl = ["--user", "get-property", AgentInterface.busName, AgentInterface.path, AgentInterface.interface, "State"]
        var statuses = Samples(), busctls = Samples(), versions = Samples(), hellos = Samples()
        for round in 0..<rounds {
            let first = round % 2 == 0
            if first { statuses.append(try await timed(agentctl, ["status"], environment: environment, expecting: 0)) }
            busctls.append(try await timed("/usr/bin/busctl", busctl, environment: environment, expecting: 0))
            if !first { statuses.append(try await timed(agentctl, ["status"], environment: environment, expecting: 0)) }
            versions.append(try await timed(agentctl, ["--version"], environment: environment, expecting: 0))
            hellos.append(try await timed(hello, [], environment: environment, expecting: 0))
        }
        try await control.quitAgent()
        _ = await agent.exit()
        let ratio = statuses.median.milliseconds / busctls.median.milliseconds
        let startRatio = versions.median.milliseconds / hellos.median.milliseconds
        return Row(
            what: "`agentctl status`, idle agent (n=\(statuses.count))",
            baseline: "`busctl --user get-property` of one property on the same agent: median \(busctls.median.readable)",
            goal: "≤ 1.0× busctl (median)",
            measured: "median \(statuses.median.readable), p99 \(statuses.p99.readable) = \(ratio.ratio) (`agentctl --version` \(versions.median.readable) against a C hello world's \(hellos.median.readable) = \(startRatio.ratio))",
            passed: ratio <= 1.0,
            howToRead: """
                the whole command as a user types it, from spawn to exit: start, connect to the bus, \
                `GetAll` the agent's properties, print them. busctl (systemd's C client) does the same \
                for one property. agentctl links the Swift runtime statically (dynamic loading was a \
                third of its start) and has no Foundation (ICU was another third); `status` and \
                `--version` run on the main thread alone, before any thread or task exists, and \
                `status` makes its one call as busctl does, blocking on libdbus's pending call \
                (`BlockingBusConnection`: with the event loop's threads and a task's hand-offs it \
                was 1.07× busctl). `--version`, against a C program that only prints, is what \
                remains of starting the program at all: the kernel mapping it and its 13 libraries \
                (libdbus brings libsystemd and its compressors), the loader's relocations, the \
                Swift runtime reading `/proc/self/maps` for its arguments.
                """)
    }

    private static func timed(_ executable: String, _ arguments: [String], environment: [String: String], expecting: Int32) async throws -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        let status = await Spawn.waitForExit(try spawn(executable, arguments, environment: environment))
        guard status == expecting else { throw BenchmarkError(message: "\(executable) \(arguments.joined(separator: " ")) exited \(status)") }
        return start.duration(to: clock.now)
    }

    /// A small process killed with SIGKILL until it is reaped.
    private static func killToReaped() async throws -> Duration {
        let pid = try spawn("/bin/sleep", ["60"], environment: [:])
        try await Task.sleep(for: .milliseconds(20))
        return killToReaped(pid)
    }

    /// `pid` (our child) killed with SIGKILL until it is reaped.
    private static func killToReaped(_ pid: pid_t) -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return start.duration(to: clock.now)
    }

    /// `VmRSS` of a process, in kB (0 when it cannot be read).
    private static func residentKilobytes(_ pid: pid_t) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
}
