/// The agent's D-Bus API: `io.github.quiesce.Agent1` at `/io/github/quiesce/Agent1`.
///
/// `dbus/io.github.quiesce.Agent1.xml` is the one source of truth. The EmbedInterface plugin
/// generates the rest of this type from it at build time: ``interface``, ``path``,
/// ``introspectionXML``, and a constant for each method (``Method``) and property (``Property``)
/// with the signatures the file gives. The agent exports exactly those, and `agentctl`, the
/// benchmarks and the tests call them by these constants, so a name or a signature written once in
/// the XML cannot drift anywhere else. No dependencies: anything may import it.
public enum AgentInterface {
    /// The well-known name the agent takes on the session bus: its interface's name, as is usual for
    /// a service with one interface (and what the activation and unit files say).
    public static let busName = interface

    /// The agent's version, as `agentd --version` prints it and the `Version` property reads.
    public static let version = "0.5.0"

    /// A method of the interface: its member name and the signatures of its arguments and reply,
    /// each the concatenation of its `<arg>` types in the XML's order.
    ///
    /// Only the generated constants exist (the initializer is internal): a method the XML does not
    /// declare cannot be named.
    public struct Method: Sendable, Hashable, CustomStringConvertible {
        /// The member name, as on the bus ("OpenSession").
        public let name: String
        /// The signature of the arguments ("sa{sv}"); "" for none.
        public let inSignature: String
        /// The signature of the reply ("s"); "" for none.
        public let outSignature: String

        init(name: String, in inSignature: String, out outSignature: String) {
            self.name = name
            self.inSignature = inSignature
            self.outSignature = outSignature
        }

        /// "OpenSession(sa{sv}) → s", for messages.
        public var description: String {
            "\(name)(\(inSignature))" + (outSignature.isEmpty ? "" : " → \(outSignature)")
        }
    }

    /// A property of the interface: its name and D-Bus type. All are read-only and announced with
    /// `PropertiesChanged`.
    public struct Property: Sendable, Hashable, CustomStringConvertible {
        /// The property's name, as on the bus ("ActiveSessions").
        public let name: String
        /// Its D-Bus type ("u").
        public let signature: String

        init(name: String, signature: String) {
            self.name = name
            self.signature = signature
        }

        /// "ActiveSessions: u", for messages.
        public var description: String { "\(name): \(signature)" }
    }

    /// A signal the agent emits: its name and the signature of its arguments.
    public struct Signal: Sendable, Hashable, CustomStringConvertible {
        /// The member name, as on the bus ("EnqueueProgress").
        public let name: String
        /// The signature of its arguments ("tt").
        public let signature: String

        init(name: String, signature: String) {
            self.name = name
            self.signature = signature
        }

        /// "EnqueueProgress(tt)", for messages.
        public var description: String { "\(name)(\(signature))" }
    }
}
