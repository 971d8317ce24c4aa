// quiesce-copy: copies one file into the NAS root for agentd, in a process the agent can abandon
// when the NAS stops answering. Not for people: see CopierCommand.
import Glibc
import QuiesceCopy

exit(CopierCommand.main(arguments: Array(CommandLine.arguments.dropFirst())))
