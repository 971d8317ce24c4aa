/// Names of the agent's D-Bus API. The interface itself is `dbus/io.github.quiesce.Agent1.xml`.
public enum AgentInterface {
    public static let busName = "io.github.quiesce.Agent1"
    public static let path = "/io/github/quiesce/Agent1"
    public static let interface = "io.github.quiesce.Agent1"
    public static let version = "0.5.0"

    /// The interface XML, served by `Introspect`: the file in `dbus/`, the one source of truth,
    /// built in by the EmbedInterface plugin.
    public static let introspectionXML = embeddedInterfaceXML
}
