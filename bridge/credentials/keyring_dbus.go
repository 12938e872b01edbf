//go:build linux || freebsd || netbsd || openbsd || dragonfly

package credentials

import (
	"fmt"
	"os"
)

// keyringMissing returns why the Secret Service cannot be reached, or "" when
// a D-Bus session bus may be there. It looks where godbus looks for an
// existing bus, and stops before godbus would run dbus-launch to start a new
// one, which on a headless machine leaves a daemon behind.
func keyringMissing() string {
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") != "" {
		return ""
	}
	dir := fmt.Sprintf("/run/user/%d", os.Getuid())
	for _, name := range []string{"bus", "dbus-session"} {
		if _, err := os.Stat(dir + "/" + name); err == nil {
			return ""
		}
	}
	return "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set and " + dir + "/bus does not exist), so no Secret Service"
}
