package azure

import (
	"sort"
	"strings"
	"time"
)

// Settings the emulated Functions host reads.
const (
	settingStorage = "AzureWebJobsStorage"
	// settingHostID overrides the host ID (on Windows also
	// AzureFunctionsWebHost:hostid; configuration keys are not case
	// sensitive).
	settingHostID = "AzureFunctionsWebHost__hostid"
	// maxHostID is how much of the app's name the generated host ID keeps.
	maxHostID = 32
)

// Why a host does not answer.
const (
	hostNotRunning = "the function app is not running"
	hostStarting   = "the Functions host is starting"
	hostCollision  = "the Functions host stopped on a host ID collision"
)

// hostCollisionLog is what the Functions host v4 logs before it shuts down
// when another app on its storage account has its host ID.
const hostCollisionLog = "A collision for Host ID '%s' was detected in the configured storage account. For more information, see https://aka.ms/functions-hostid-collision."

// hostID is the Functions host's ID for the app: the setting when set,
// else the first 32 characters of the app's name.
func hostID(name string, settings map[string]string) string {
	for k, v := range settings {
		if v != "" && (strings.EqualFold(k, settingHostID) || strings.EqualFold(k, "AzureFunctionsWebHost:hostid")) {
			return strings.ToLower(v)
		}
	}
	id := strings.ToLower(name)
	if len(id) > maxHostID {
		id = id[:maxHostID]
	}
	return id
}

func siteName(st *site) string { n, _ := st.Body["name"].(string); return n }

// hostDown says why the site's Functions host does not answer, "" when it
// does; s.mu is held. The first time a host is found to collide, its log
// gets the host's error.
func (s *Server) hostDown(st *site) string {
	now := s.opts.Now()
	switch {
	case !s.running(st):
		return hostNotRunning
	case now.Before(st.readyAt):
		return "" // the previous version serves until the update is deployed
	case now.Before(st.hostUpAt):
		return hostStarting
	}
	owner := s.hostOwner(st)
	if owner == st {
		st.collided = false
		return ""
	}
	if !st.collided {
		st.collided = true
		st.Logs = append(st.Logs, now.UTC().Format(time.RFC3339Nano)+" ERROR - "+strings.Replace(hostCollisionLog, "%s", hostID(siteName(st), st.Settings), 1))
	}
	return hostCollision
}

// hostOwner is, among the started hosts that share st's storage account
// and host ID, the one that started first (the others shut down); s.mu is
// held.
func (s *Server) hostOwner(st *site) *site {
	storage := st.Settings[settingStorage]
	if storage == "" {
		return st
	}
	id := hostID(siteName(st), st.Settings)
	now := s.opts.Now()
	var same []*site
	for _, o := range s.sites {
		if o.Settings[settingStorage] == storage && hostID(siteName(o), o.Settings) == id && s.running(o) && !now.Before(o.hostUpAt) {
			same = append(same, o)
		}
	}
	if len(same) == 0 {
		return st
	}
	sort.Slice(same, func(i, j int) bool {
		if !same[i].hostUpAt.Equal(same[j].hostUpAt) {
			return same[i].hostUpAt.Before(same[j].hostUpAt)
		}
		return key(same[i].ResourceGroup, siteName(same[i])) < key(same[j].ResourceGroup, siteName(same[j]))
	})
	return same[0]
}
