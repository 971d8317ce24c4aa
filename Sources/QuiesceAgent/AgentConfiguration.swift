public import QuiesceCopy
public import QuiesceCore
import Configuration
public import Foundation
import SystemPackage

/// What `agentd` runs with: the brief's keys, read with swift-configuration from, highest first,
/// `agentd`'s flags, the environment (`QUIESCE_…`), the YAML file, and the defaults below.
///
/// Every value is read as text and parsed here, so a bad one is reported the same way wherever it
/// came from: the key, the value, and what was expected.
public struct AgentConfiguration: Sendable, Hashable {
    public var shutdown: ShutdownConfiguration
    /// The NAS mount to copy into; until it is set, jobs queue and wait.
    public var nasRoot: String?
    /// Copy only while the NAS root is mounted (on a filesystem other than `/` and the state
    /// directory's), so an empty mount point never receives copies meant for the NAS.
    public var requireMount: Bool
    /// Copies at once.
    public var syncConcurrency: Int
    /// What a copy does when its name on the NAS holds a file this agent did not write.
    public var onConflict: ConflictPolicy = .keepBoth
    /// The SQLite database.
    public var storePath: String
    /// Whether to register with the desktop's session manager (rule 11).
    public var sessionManager: Integration = .auto
    /// Whether to show a tray icon (a StatusNotifierItem).
    public var tray: Integration = .auto

    /// A desktop integration: on when its peer is on the bus (`auto`), always (`true`: its absence
    /// is worth a warning), or never (`false`).
    public enum Integration: String, Sendable, Hashable, CaseIterable {
        case auto
        case on = "true"
        case off = "false"
    }

    public init(
        shutdown: ShutdownConfiguration = ShutdownConfiguration(), nasRoot: String? = nil, requireMount: Bool = false, syncConcurrency: Int = 2,
        storePath: String
    ) {
        self.shutdown = shutdown
        self.nasRoot = nasRoot
        self.requireMount = requireMount
        self.syncConcurrency = syncConcurrency
        self.storePath = storePath
    }

    /// One configuration key: its name in the file, its environment variable and its flag.
    public struct Key: Sendable, Hashable {
        public let name: String
        public let flag: String
        public var environment: String { "QUIESCE_" + name.uppercased().replacingOccurrences(of: ".", with: "_") }

        public static let quitTimeout = Key(name: "shutdown.quit_timeout", flag: "quit-timeout")
        public static let sigtermTimeout = Key(name: "shutdown.sigterm_timeout", flag: "sigterm-timeout")
        public static let answerTimeout = Key(name: "shutdown.answer_timeout", flag: "answer-timeout")
        public static let afterWait = Key(name: "shutdown.after_wait", flag: "after-wait")
        public static let stopTimeout = Key(name: "shutdown.stop_timeout", flag: "stop-timeout")
        public static let nasRoot = Key(name: "sync.nas_root", flag: "nas-root")
        public static let requireMount = Key(name: "sync.require_mount", flag: "require-mount")
        public static let syncConcurrency = Key(name: "sync.concurrency", flag: "sync-concurrency")
        public static let onConflict = Key(name: "sync.on_conflict", flag: "on-conflict")
        public static let storePath = Key(name: "store.path", flag: "db")
        public static let sessionManager = Key(name: "desktop.session_manager", flag: "session-manager")
        public static let tray = Key(name: "tray.enabled", flag: "tray")

        public static let all: [Key] = [quitTimeout, sigtermTimeout, answerTimeout, afterWait, stopTimeout, nasRoot, requireMount, syncConcurrency, onConflict, storePath, sessionManager, tray]
    }

    /// Reads the configuration.
    /// - Parameters:
    ///   - flags: values given as `agentd` flags, by key.
    ///   - environment: the process environment (`QUIESCE_*`, `XDG_*`, `HOME`).
    ///   - file: `--config FILE`, which must exist; without it the default file is read if present.
    public static func load(
        flags: [Key: String] = [:], environment: [String: String] = ProcessInfo.processInfo.environment, file: String? = nil
    ) async throws(ConfigurationError) -> AgentConfiguration {
        let paths = AgentPaths(environment: environment)
        let filePath = file ?? paths.configFile
        var providers: [any ConfigProvider] = [
            InMemoryProvider(name: "flags", values: Dictionary(uniqueKeysWithValues: flags.map { key, value in
                (AbsoluteConfigKey(key.name.split(separator: ".").map(String.init)), ConfigValue(.string(value), isSecret: false))
            })),
            EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: ConfigKey("quiesce")),
        ]
        // A file with nothing in it but comments sets nothing (YAML reads it as no mapping at all);
        // a fresh, commented-out agent.yaml must not stop the agent.
        if !Self.isBlank(path: filePath) {
            do {
                providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(filePath), allowMissing: file == nil))
            } catch {
                throw ConfigurationError(
                    key: file == nil ? "the configuration file" : "--config", value: filePath,
                    expected: "a readable YAML file of keys and values, as in docs/configuration.md (\(error))")
            }
        } else if file != nil, !FileManager.default.fileExists(atPath: filePath) {
            throw ConfigurationError(key: "--config", value: filePath, expected: "an existing YAML file")
        }
        let reader = ConfigReader(providers: providers)
        func text(_ key: Key) -> String? {
            reader.string(forKey: ConfigKey(key.name.split(separator: ".").map(String.init)))?.trimmingCharacters(in: .whitespaces)
        }

        var shutdown = ShutdownConfiguration()
        shutdown.quitTimeout = try seconds(text(.quitTimeout), key: .quitTimeout) ?? shutdown.quitTimeout
        shutdown.sigtermTimeout = try seconds(text(.sigtermTimeout), key: .sigtermTimeout) ?? shutdown.sigtermTimeout
        shutdown.answerTimeout = try seconds(text(.answerTimeout), key: .answerTimeout) ?? shutdown.answerTimeout
        shutdown.stopTimeout = try seconds(text(.stopTimeout), key: .stopTimeout) ?? shutdown.stopTimeout
        if let value = text(.afterWait) {
            guard let afterWait = ShutdownConfiguration.AfterWait(rawValue: value) else {
                throw ConfigurationError(key: Key.afterWait.name, value: value, expected: "reprompt or force")
            }
            shutdown.afterWait = afterWait
        }
        try shutdown.validate()

        var configuration = AgentConfiguration(shutdown: shutdown, storePath: paths.database)
        if let value = text(.nasRoot), !value.isEmpty {
            guard value.hasPrefix("/") else {
                throw ConfigurationError(key: Key.nasRoot.name, value: value, expected: "an absolute path to the mounted NAS directory")
            }
            configuration.nasRoot = value
        }
        if let value = text(.requireMount) {
            switch value.lowercased() {
            case "true", "yes", "on", "1": configuration.requireMount = true
            case "false", "no", "off", "0": configuration.requireMount = false
            default: throw ConfigurationError(key: Key.requireMount.name, value: value, expected: "true or false")
            }
        }
        if let value = text(.syncConcurrency) {
            guard let count = Int(value), (1...64).contains(count) else {
                throw ConfigurationError(key: Key.syncConcurrency.name, value: value, expected: "a whole number from 1 to 64")
            }
            configuration.syncConcurrency = count
        }
        if let value = text(.onConflict) {
            guard let policy = ConflictPolicy(rawValue: value.lowercased()) else {
                throw ConfigurationError(
                    key: Key.onConflict.name, value: value,
                    expected: ConflictPolicy.allCases.map(\.rawValue).joined(separator: ", ") + " (keep-both keeps what is on the NAS and lands the copy beside it)")
            }
            configuration.onConflict = policy
        }
        configuration.sessionManager = try integration(text(.sessionManager), key: .sessionManager) ?? .auto
        configuration.tray = try integration(text(.tray), key: .tray) ?? .auto
        if let value = text(.storePath), !value.isEmpty {
            guard value.hasPrefix("/") else {
                throw ConfigurationError(key: Key.storePath.name, value: value, expected: "an absolute path for the database file")
            }
            configuration.storePath = value
        }
        return configuration
    }

    /// Whether the file exists and holds nothing but blank lines and comments.
    private static func isBlank(path: String) -> Bool {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return false }
        return text.split(whereSeparator: \.isNewline).allSatisfy { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            return trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed == "---"
        }
    }

    /// "auto", "true", "false" (also yes/no, on/off, 1/0); nil when the key is not set.
    private static func integration(_ value: String?, key: Key) throws(ConfigurationError) -> Integration? {
        guard let value else { return nil }
        switch value.lowercased() {
        case "auto": return .auto
        case "true", "yes", "on", "1": return .on
        case "false", "no", "off", "0": return .off
        default: throw ConfigurationError(key: key.name, value: value, expected: "auto, true or false")
        }
    }

    /// "30", "2.5": seconds, decimals allowed; nil when the key is not set.
    private static func seconds(_ value: String?, key: Key) throws(ConfigurationError) -> Duration? {
        guard let value else { return nil }
        guard let seconds = Double(value), seconds.isFinite, seconds >= 0, seconds <= 24 * 3600 else {
            throw ConfigurationError(key: key.name, value: value, expected: "seconds, for example 30 or 2.5")
        }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }
}

/// Where the agent keeps its files, from the XDG base directories.
public struct AgentPaths: Sendable, Hashable {
    /// `$XDG_STATE_HOME/quiesce` (default `~/.local/state/quiesce`).
    public var stateDirectory: String
    /// `$XDG_CONFIG_HOME/quiesce/agent.yaml` (default `~/.config/quiesce/agent.yaml`).
    public var configFile: String

    public var database: String { stateDirectory + "/agent.db" }

    public init(environment: [String: String]) {
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        func base(_ variable: String, _ fallback: String) -> String {
            // The XDG spec: a relative value is invalid and ignored.
            if let value = environment[variable], value.hasPrefix("/") { return value }
            return home + "/" + fallback
        }
        stateDirectory = base("XDG_STATE_HOME", ".local/state") + "/quiesce"
        configFile = base("XDG_CONFIG_HOME", ".config") + "/quiesce/agent.yaml"
    }
}
