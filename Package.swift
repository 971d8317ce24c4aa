// swift-tools-version:6.2
import PackageDescription

/// Quiesce: a graceful-shutdown coordinator for Linux desktop and tray agents.
///
/// One folder a target under `Sources/`. `QuiesceCore` is the protocol with no I/O and no C
/// imports, so any Swift agent can embed it; everything that touches the system lives in the
/// targets around it. See `docs/architecture.md` for what each target may import.
let package = Package(
    name: "quiesce",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "QuiesceCore", targets: ["QuiesceCore"]),
        .library(name: "QuiesceServiceLifecycle", targets: ["QuiesceServiceLifecycle"]),
        .library(name: "QuiesceStore", targets: ["QuiesceStore"]),
        .library(name: "QuiesceCopy", targets: ["QuiesceCopy"]),
        .library(name: "QuiesceSync", targets: ["QuiesceSync"]),
        .library(name: "QuiesceDBus", targets: ["QuiesceDBus"]),
        .library(name: "QuiesceAgent", targets: ["QuiesceAgent"]),
        .library(name: "QuiesceInterface", targets: ["QuiesceInterface"]),
        .executable(name: "agentd", targets: ["agentd"]),
        .executable(name: "agentctl", targets: ["agentctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/pointfreeco/swift-clocks.git", from: "1.1.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0", traits: [.defaults, "YAML"]),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
    ],
    targets: [
        .target(
            name: "QuiesceCore",
            dependencies: [
                .product(name: "Logging", package: "swift-log")
            ]
        ),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .target(
            name: "QuiesceStore",
            dependencies: ["CSQLite", "QuiesceThreads"]
        ),
        .target(name: "CFileSystem"),
        // posix_spawn with a clean signal mask and no inherited descriptors: `agentctl run`'s
        // command and the test rig's peers.
        .target(name: "CSpawn"),
        .target(name: "QuiesceSpawn", dependencies: ["CSpawn", "QuiesceThreads"]),
        // Threads, executors and signals of our own instead of libdispatch, whose worker pool wakes
        // an idle process once a second.
        .target(name: "QuiesceThreads"),
        // One file copied durably into the NAS root, and the child process that does it for the
        // agent (quiesce-copy): no store, no logging, so the child starts light.
        .target(name: "QuiesceCopy", dependencies: ["CFileSystem"]),
        .executableTarget(name: "quiesce-copy", dependencies: ["QuiesceCopy"]),
        .target(
            name: "QuiesceSync",
            dependencies: [
                "QuiesceThreads",
                "QuiesceCopy",
                "QuiesceSpawn",
                "QuiesceCore",
                "QuiesceStore",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .systemLibrary(
            name: "CDBus",
            pkgConfig: "dbus-1",
            providers: [.apt(["libdbus-1-dev"])]
        ),
        .target(
            name: "QuiesceDBus",
            dependencies: [
                "QuiesceThreads",
                "CDBus",
                "QuiesceCore",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "QuiesceServiceLifecycle",
            dependencies: [
                "QuiesceCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // The agent's D-Bus names and signatures, generated from dbus/io.github.quiesce.Agent1.xml
        // by the EmbedInterface plugin. No dependencies, so the agent, agentctl, the benchmarks
        // and the tests all take them from here.
        .target(name: "QuiesceInterface", plugins: ["EmbedInterface"]),
        .executableTarget(name: "embed-interface"),
        .plugin(name: "EmbedInterface", capability: .buildTool(), dependencies: ["embed-interface"]),
        // The agent's wiring, as a library so tests and other agents can run it in process.
        .target(
            name: "QuiesceAgent",
            dependencies: [
                "QuiesceThreads",
                "QuiesceCore", "QuiesceStore", "QuiesceCopy", "QuiesceSync", "QuiesceDBus", "QuiesceInterface", "QuiesceSpawn",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // What agentd and agentctl share on the command line: usage errors exit 2.
        .target(
            name: "QuiesceCommandLine",
            dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "agentd",
            dependencies: [
                "QuiesceThreads",
                "QuiesceAgent", "QuiesceCore", "QuiesceCommandLine", "QuiesceInterface",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The CLI talks to the agent over D-Bus only: it does not import the store.
        .executableTarget(
            name: "agentctl",
            dependencies: [
                "QuiesceThreads",
                "QuiesceDBus", "QuiesceInterface", "QuiesceSpawn", "QuiesceCommandLine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "quiesce-bench",
            dependencies: [
                "QuiesceCore", "QuiesceStore", "QuiesceCopy", "QuiesceSync", "QuiesceDBus", "QuiesceInterface", "QuiesceSpawn", "QuiesceTestSupport", "QuiesceThreads",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // make bench: the baseline of the idle-footprint row (a Swift program that only waits on the bus).
        .executableTarget(
            name: "quiesce-idle-baseline",
            dependencies: ["QuiesceDBus", "QuiesceThreads"]
        ),
        .executableTarget(
            name: "quiesce-sync-probe",
            dependencies: [
                "QuiesceCore", "QuiesceStore", "QuiesceSync",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "QuiesceCoreTests",
            dependencies: [
                "QuiesceCore",
                .product(name: "Clocks", package: "swift-clocks"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
            ]
        ),
        .target(
            name: "QuiesceTestSupport",
            dependencies: ["QuiesceDBus", "QuiesceInterface", "QuiesceSpawn"],
            path: "Tests/Support"
        ),
        // The reliability suite's scenarios against the real binaries, sized by the caller:
        // `make torture` runs them at full size, `make test` small.
        .target(
            name: "QuiesceTorture",
            dependencies: ["QuiesceTestSupport", "QuiesceDBus", "QuiesceInterface", "CSQLite"],
            path: "Tests/Torture"
        ),
        .executableTarget(
            name: "quiesce-torture",
            dependencies: ["QuiesceTorture", "QuiesceTestSupport"]
        ),
        .testTarget(
            name: "QuiesceThreadsTests",
            dependencies: ["QuiesceThreads"]
        ),
        .testTarget(
            name: "QuiesceStoreTests",
            dependencies: ["QuiesceStore", "QuiesceTestSupport"]
        ),
        .testTarget(
            name: "QuiesceSyncTests",
            dependencies: [
                "QuiesceCore", "QuiesceStore", "QuiesceCopy", "QuiesceSync", "QuiesceSpawn", "QuiesceTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "QuiesceDBusTests",
            dependencies: [
                "QuiesceDBus", "QuiesceCore", "QuiesceTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            // python-dbus scripts the tests run as peers.
            exclude: ["Peers"]
        ),
        .testTarget(
            name: "QuiesceAgentTests",
            dependencies: [
                "QuiesceAgent", "QuiesceCopy", "QuiesceCore", "QuiesceDBus", "QuiesceInterface", "QuiesceSpawn", "QuiesceStore",
                "QuiesceTestSupport", "QuiesceTorture",
            ],
            // python-dbus scripts the tests run as peers.
            exclude: ["Peers"]
        ),
        // The generated constants against the XML, read again at test time with XMLParser.
        .testTarget(
            name: "QuiesceInterfaceTests",
            dependencies: ["QuiesceInterface"]
        ),
        .testTarget(
            name: "QuiesceServiceLifecycleTests",
            dependencies: [
                "QuiesceCore",
                "QuiesceServiceLifecycle",
                "QuiesceTestSupport",
                .product(name: "Clocks", package: "swift-clocks"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// The upcoming features swift-log turns on for its own targets: explicit existentials, imports that
// are internal unless marked public, members visible only through imports that name their module.
for target in package.targets where [.executable, .test, .regular].contains(target.type) {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    settings.append(.enableUpcomingFeature("InternalImportsByDefault"))
    target.swiftSettings = settings
}
