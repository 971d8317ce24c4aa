#!/bin/sh
# dunst's "dmenu" in the rig: dunst writes one line per action, `#<label> (<summary>) [<id>,<key>]`,
# in no fixed order, and invokes the line we print back. We pick the action whose key a test wrote
# to $QUIESCE_DUNST_PICK: that is how a test clicks Force quit or Wait.
grep ",$(cat "$QUIESCE_DUNST_PICK")]" | head -n 1
