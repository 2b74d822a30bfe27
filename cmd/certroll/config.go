package main

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/command"
	"github.com/certroll/certroll/truststore"
)

// The renewal configuration is YAML, read with go.yaml.in/yaml/v3 (the YAML
// organisation's maintained go-yaml): administrators know YAML from
// Kubernetes and Ansible, comments are allowed, and the decoder refuses
// unknown keys with their line number (KnownFields).

//go:embed example.yaml
var exampleConfig []byte

// config is a renewal configuration as the file says it; paths are
// relative to the file's directory until resolve makes them absolute.
type config struct {
	Tenant   tenantConfig        `yaml:"tenant"`
	CA       caConfig            `yaml:"ca"`
	NewRoot  string              `yaml:"new_root"`
	OldRoot  string              `yaml:"old_root"`
	Receiver receiverConfig      `yaml:"receiver"`
	Runtime  runtimeConfig       `yaml:"runtime"`
	Notifier notifierConfig      `yaml:"notifier"`
	Sequence string              `yaml:"sequence"`
	Window   *windowConfig       `yaml:"window"`
	Drain    duration            `yaml:"drain"`
	Waits    map[string]duration `yaml:"waits"`
	HandOver string              `yaml:"hand_over_dir"`
	InUse    []string            `yaml:"in_use"`

	// dir is the directory of the configuration file; path is the file.
	dir, path string
}

type tenantConfig struct {
	Keystore string          `yaml:"keystore"`
	Format   string          `yaml:"format"`
	Alias    string          `yaml:"alias"`
	Password *passwordConfig `yaml:"password"`
	KeyType  string          `yaml:"key_type"`
}

// passwordConfig says where a password comes from; the file never holds
// the password itself.
type passwordConfig struct {
	Env    string `yaml:"env"`
	File   string `yaml:"file"`
	Prompt bool   `yaml:"prompt"`

	invalid bool // already reported by UnmarshalYAML
}

// UnmarshalYAML reads a password source, refusing a scalar (which may be
// the password itself, so it is never repeated in the message) and
// unknown keys.
func (p *passwordConfig) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		p.invalid = true
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: a password source is expected: {env: NAME}, {file: PATH} or {prompt: true}; never write the password itself in the file (and change it if it was)", n.Line)}}
	}
	var errs []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var err error
		switch k.Value {
		case "env":
			err = v.Decode(&p.Env)
		case "file":
			err = v.Decode(&p.File)
		case "prompt":
			err = v.Decode(&p.Prompt)
		default:
			errs = append(errs, fmt.Sprintf("line %d: unknown key %q in password (known keys: env, file, prompt)", k.Line, k.Value))
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("line %d: password.%s: %s expected", v.Line, k.Value, map[string]string{"env": "an environment variable's name", "file": "a file's path", "prompt": "true or false"}[k.Value]))
		}
	}
	if len(errs) > 0 {
		p.invalid = true
		return &yaml.TypeError{Errors: errs}
	}
	return nil
}

type caConfig struct {
	Handoff  *handoffConfig    `yaml:"handoff"`
	Command  *caCommandConfig  `yaml:"command"`
	Embedded *embeddedCAConfig `yaml:"embedded"`
}

// embeddedCAConfig is certroll's own CA (renewal/local's), kept in a
// folder: its root is the new root, and it signs the request at once.
type embeddedCAConfig struct {
	Dir  string `yaml:"dir"`
	Name string `yaml:"name"`
}

type handoffConfig struct {
	Dir  string   `yaml:"dir"`
	Pool []string `yaml:"pool"`
}

type caCommandConfig struct {
	Argv    []string `yaml:"argv"`
	Dir     string   `yaml:"dir"`
	Pool    []string `yaml:"pool"`
	Timeout duration `yaml:"timeout"`
}

type receiverConfig struct {
	Nginx    *nginxConfig    `yaml:"nginx"`
	HAProxy  *haproxyConfig  `yaml:"haproxy"`
	Command  *rcvCmdConfig   `yaml:"command"`
	Embedded *embeddedRcvCfg `yaml:"embedded"`
}

type nginxConfig struct {
	ClientCA     string   `yaml:"client_ca"`
	PinMap       string   `yaml:"pin_map"`
	AccessLog    string   `yaml:"access_log"`
	Nginx        string   `yaml:"nginx"`
	Prefix       string   `yaml:"prefix"`
	ConfFile     string   `yaml:"conf_file"`
	PidFile      string   `yaml:"pid_file"`
	ReloadSignal bool     `yaml:"reload_signal"`
	Addr         string   `yaml:"addr"`
	URL          string   `yaml:"url"`
	ServerName   string   `yaml:"server_name"`
	ServerRoots  []string `yaml:"server_roots"`
	Timeout      duration `yaml:"timeout"`
}

type haproxyConfig struct {
	CAFile       string   `yaml:"ca_file"`
	PinnedACL    string   `yaml:"pinned_acl"`
	AccessLog    string   `yaml:"access_log"`
	HAProxy      string   `yaml:"haproxy"`
	ConfigFiles  []string `yaml:"config_files"`
	MasterSocket string   `yaml:"master_socket"`
	PidFile      string   `yaml:"pid_file"`
	URL          string   `yaml:"url"`
	ServerName   string   `yaml:"server_name"`
	ServerRoots  []string `yaml:"server_roots"`
	Timeout      duration `yaml:"timeout"`
}

type rcvCmdConfig struct {
	TrustFile      string          `yaml:"trust_file"`
	TrustKind      string          `yaml:"trust_kind"`
	Password       *passwordConfig `yaml:"password"`
	AcceptedList   string          `yaml:"accepted_list"`
	AcceptedFormat string          `yaml:"accepted_format"`
	Check          []string        `yaml:"check"`
	Reload         []string        `yaml:"reload"`
	Timeout        duration        `yaml:"timeout"`
	AccessLog      string          `yaml:"access_log"`
	URL            string          `yaml:"url"`
	ServerName     string          `yaml:"server_name"`
	ServerRoots    []string        `yaml:"server_roots"`
}

type embeddedRcvCfg struct {
	Truststore     string          `yaml:"truststore"`
	TruststoreKind string          `yaml:"truststore_kind"`
	Password       *passwordConfig `yaml:"password"`
	Accepted       string          `yaml:"accepted"`
}

type runtimeConfig struct {
	Java     *javaConfig    `yaml:"java"`
	Command  *rtCmdConfig   `yaml:"command"`
	Embedded *embeddedRtCfg `yaml:"embedded"`
}

type javaConfig struct {
	Nodes       int      `yaml:"nodes"`
	URL         string   `yaml:"url"`
	ServerRoots []string `yaml:"server_roots"`
	Rate        float64  `yaml:"rate"`
	Java        string   `yaml:"java"`
	JVMOptions  []string `yaml:"jvm_options"`
	Timeout     duration `yaml:"timeout"`
}

type rtCmdConfig struct {
	Nodes   []nodeConfig `yaml:"nodes"`
	Timeout duration     `yaml:"timeout"`
	Dir     string       `yaml:"dir"`
}

type nodeConfig struct {
	Name     string   `yaml:"name"`
	Stop     []string `yaml:"stop"`
	Start    []string `yaml:"start"`
	Restart  []string `yaml:"restart"`
	Presents []string `yaml:"presents"`
}

type embeddedRtCfg struct {
	Nodes int     `yaml:"nodes"`
	Rate  float64 `yaml:"rate"`
}

type notifierConfig struct {
	Print   bool     `yaml:"print"`
	Command []string `yaml:"command"`
}

type windowConfig struct {
	Start       string `yaml:"start"`
	End         string `yaml:"end"`
	Description string `yaml:"description"`
}

// duration is a time.Duration written as "30s", "10m" or "1h30m".
type duration time.Duration

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || v < 0 {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %q is not a duration such as 30s, 10m or 1h30m", n.Line, n.Value)}}
	}
	*d = duration(v)
	return nil
}

// configError lists every problem of a configuration file, each with its
// line number; it is bad input (exit 2).
type configError struct {
	path     string
	problems []string
}

func (e *configError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d problem", e.path, len(e.problems))
	if len(e.problems) != 1 {
		b.WriteString("s")
	}
	b.WriteString(" (fix them and run again; certroll config example prints a template):")
	for _, p := range e.problems {
		b.WriteString("\n  " + p)
	}
	return b.String()
}

// sectionNames names each configuration struct as the file does, so that
// an error says "in receiver.nginx" and not a Go type.
var sectionNames = map[reflect.Type]string{
	reflect.TypeFor[config]():           "the top level",
	reflect.TypeFor[tenantConfig]():     "tenant",
	reflect.TypeFor[passwordConfig]():   "password",
	reflect.TypeFor[caConfig]():         "ca",
	reflect.TypeFor[handoffConfig]():    "ca.handoff",
	reflect.TypeFor[caCommandConfig]():  "ca.command",
	reflect.TypeFor[embeddedCAConfig](): "ca.embedded",
	reflect.TypeFor[receiverConfig]():   "receiver",
	reflect.TypeFor[nginxConfig]():      "receiver.nginx",
	reflect.TypeFor[haproxyConfig]():    "receiver.haproxy",
	reflect.TypeFor[rcvCmdConfig]():     "receiver.command",
	reflect.TypeFor[embeddedRcvCfg]():   "receiver.embedded",
	reflect.TypeFor[runtimeConfig]():    "runtime",
	reflect.TypeFor[javaConfig]():       "runtime.java",
	reflect.TypeFor[rtCmdConfig]():      "runtime.command",
	reflect.TypeFor[nodeConfig]():       "runtime.command.nodes",
	reflect.TypeFor[embeddedRtCfg]():    "runtime.embedded",
	reflect.TypeFor[notifierConfig]():   "notifier",
	reflect.TypeFor[windowConfig]():     "window",
}

var (
	unknownFieldRE = regexp.MustCompile(`^line (\d+): field (\S+) not found in type (\S+)$`)
	unmarshalRE    = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+)(?: `(.*)`)? into (\\S+)$")
)

// yamlProblem rewrites one of the decoder's messages in the file's terms.
func yamlProblem(msg string) string {
	if m := unknownFieldRE.FindStringSubmatch(msg); m != nil {
		for t, name := range sectionNames {
			if t.String() == m[3] {
				return fmt.Sprintf("line %s: unknown key %q in %s (known keys: %s)", m[1], m[2], name, strings.Join(yamlKeys(t), ", "))
			}
		}
		return fmt.Sprintf("line %s: unknown key %q", m[1], m[2])
	}
	if m := unmarshalRE.FindStringSubmatch(msg); m != nil {
		what := m[2]
		switch what {
		case "map":
			what = "a mapping"
		case "seq":
			what = "a list"
		case "str", "int", "bool", "float":
			what = fmt.Sprintf("%q", m[3])
		}
		return fmt.Sprintf("line %s: %s where %s is expected", m[1], what, expected(m[4]))
	}
	return msg
}

// expected says in words what a Go type holds.
func expected(goType string) string {
	switch {
	case goType == "string":
		return "a text"
	case goType == "bool":
		return "true or false"
	case goType == "int":
		return "a whole number"
	case goType == "float64":
		return "a number"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map["):
		return "a mapping"
	}
	for t, name := range sectionNames {
		if t.String() == strings.TrimPrefix(goType, "*") {
			return "the mapping " + name
		}
	}
	return "another value"
}

func yamlKeys(t reflect.Type) []string {
	var keys []string
	for f := range t.Fields() {
		if tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); tag != "" && f.IsExported() {
			keys = append(keys, tag)
		}
	}
	sort.Strings(keys)
	return keys
}

// parseConfig reads the configuration in data (from the file path) and
// checks it, returning every problem at once as a *configError.
func parseConfig(path string, data []byte) (*config, error) {
	cerr := &configError{path: path}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		cerr.problems = append(cerr.problems, strings.TrimPrefix(err.Error(), "yaml: "))
		if n := tabIndented(data); n > 0 {
			cerr.problems = append(cerr.problems, fmt.Sprintf("line %d: YAML does not allow tabs for indentation; use spaces", n))
		}
		return nil, usageErr(cerr)
	}
	if len(root.Content) == 0 {
		cerr.problems = append(cerr.problems, "the file is empty")
		return nil, usageErr(cerr)
	}
	c := &config{path: path, dir: filepath.Dir(path)}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			cerr.problems = append(cerr.problems, strings.TrimPrefix(err.Error(), "yaml: "))
			return nil, usageErr(cerr)
		}
		for _, m := range te.Errors {
			cerr.problems = append(cerr.problems, yamlProblem(m))
		}
	}
	c.check(root.Content[0], cerr)
	sort.SliceStable(cerr.problems, func(i, j int) bool { return problemLine(cerr.problems[i]) < problemLine(cerr.problems[j]) })
	if len(cerr.problems) > 0 {
		return nil, usageErr(cerr)
	}
	return c, nil
}

// tabIndented returns the number of the first line indented with a tab,
// or 0: the decoder's message for it ("found character that cannot start
// any token") does not say so.
func tabIndented(data []byte) int {
	for i, line := range strings.Split(string(data), "\n") {
		indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
		if strings.Contains(indent, "\t") {
			return i + 1
		}
	}
	return 0
}

// problemLine is the line number a problem starts with.
func problemLine(p string) int {
	var n int
	fmt.Sscanf(p, "line %d:", &n)
	return n
}

// lineOf returns the line of the node at the path of keys under n (the
// nearest existing parent's line if the key is missing), for messages.
func lineOf(n *yaml.Node, keys ...string) int {
	line := n.Line
	for _, k := range keys {
		if n.Kind != yaml.MappingNode {
			return line
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
				line = n.Content[i].Line
				break
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}

// check adds the problems of the values (what the decoder cannot see) to
// cerr, each with its line.
func (c *config) check(root *yaml.Node, cerr *configError) {
	add := func(keys []string, format string, args ...any) {
		cerr.problems = append(cerr.problems, fmt.Sprintf("line %d: %s", lineOf(root, keys...), fmt.Sprintf(format, args...)))
	}
	k := func(keys ...string) []string { return keys }

	// tenant
	if c.Tenant.Keystore == "" {
		add(k("tenant"), "tenant.keystore is missing: the path of the tenant's client keystore (JKS or PKCS#12)")
	}
	if c.Tenant.Alias == "" {
		add(k("tenant"), "tenant.alias is missing: the alias of the key entry to renew (keytool -list shows it)")
	}
	switch strings.ToUpper(strings.ReplaceAll(c.Tenant.Format, "#", "")) {
	case "", "JKS", "PKCS12":
	default:
		add(k("tenant", "format"), "tenant.format %q: give JKS or PKCS12", c.Tenant.Format)
	}
	c.checkPassword(c.Tenant.Password, true, k("tenant", "password"), "tenant.password", add)
	if c.Tenant.KeyType != "" {
		if _, err := keystore.ParseKeyType(c.Tenant.KeyType); err != nil {
			add(k("tenant", "key_type"), "tenant.key_type %q: give RSA-2048, RSA-3072, RSA-4096, EC-P256, EC-P384 or Ed25519", c.Tenant.KeyType)
		}
	}

	// ca
	switch n := countSet(c.CA.Handoff != nil, c.CA.Command != nil, c.CA.Embedded != nil); {
	case n == 0:
		add(k("ca"), "ca: give handoff (a hand-over folder), command (a signing command) or embedded (certroll's own CA, kept in a folder)")
	case n > 1:
		add(k("ca"), "ca: give only one of handoff, command or embedded")
	}
	if h := c.CA.Handoff; h != nil && h.Dir == "" {
		add(k("ca", "handoff"), "ca.handoff.dir is missing: the folder where the request is written and the reply is put")
	}
	if cc := c.CA.Command; cc != nil && len(cc.Argv) == 0 {
		add(k("ca", "command"), "ca.command.argv is missing: the command that signs the request, such as [openssl, x509, -req, ...]")
	}
	if x := c.CA.Embedded; x != nil && x.Dir == "" {
		add(k("ca", "embedded"), "ca.embedded.dir is missing: the folder that keeps the embedded CA's root (ca.pem) and key (ca.key)")
	}

	// receiver
	r := c.Receiver
	switch n := countSet(r.Nginx != nil, r.HAProxy != nil, r.Command != nil, r.Embedded != nil); {
	case n == 0:
		add(k("receiver"), "receiver: give one of nginx, haproxy, command or embedded")
	case n > 1:
		add(k("receiver"), "receiver: give only one of nginx, haproxy, command or embedded")
	}
	if x := r.Nginx; x != nil {
		if x.ClientCA == "" {
			add(k("receiver", "nginx"), "receiver.nginx.client_ca is missing: the PEM bundle ssl_client_certificate names")
		}
		if x.PinMap == "" {
			add(k("receiver", "nginx"), "receiver.nginx.pin_map is missing: the file the map block of pinned fingerprints includes")
		}
	}
	if x := r.HAProxy; x != nil {
		if x.CAFile == "" {
			add(k("receiver", "haproxy"), "receiver.haproxy.ca_file is missing: the PEM file the bind line names with ca-file")
		}
		if x.URL == "" {
			add(k("receiver", "haproxy"), "receiver.haproxy.url is missing: an https URL of the frontend, for the handshake checks")
		}
	}
	if x := r.Command; x != nil {
		if x.TrustFile == "" {
			add(k("receiver", "command"), "receiver.command.trust_file is missing: the file of roots the server trusts for client certificates")
		}
		if _, ok := trustKinds[strings.ToUpper(x.TrustKind)]; !ok {
			add(k("receiver", "command", "trust_kind"), "receiver.command.trust_kind %q: give PEM, JKS or PKCS12", x.TrustKind)
		}
		if _, ok := listFormats[x.AcceptedFormat]; !ok {
			add(k("receiver", "command", "accepted_format"), "receiver.command.accepted_format %q: give nginx-map, haproxy-acl or sha256", x.AcceptedFormat)
		}
		c.checkPassword(x.Password, false, k("receiver", "command", "password"), "receiver.command.password", add)
	}
	if x := r.Embedded; x != nil {
		if x.Truststore == "" {
			add(k("receiver", "embedded"), "receiver.embedded.truststore is missing: the receiver's truststore file")
		}
		if x.Accepted == "" {
			add(k("receiver", "embedded"), "receiver.embedded.accepted is missing: the PEM file of accepted client certificates")
		}
		if _, ok := trustKinds[strings.ToUpper(x.TruststoreKind)]; !ok {
			add(k("receiver", "embedded", "truststore_kind"), "receiver.embedded.truststore_kind %q: give PEM, JKS or PKCS12", x.TruststoreKind)
		}
		c.checkPassword(x.Password, false, k("receiver", "embedded", "password"), "receiver.embedded.password", add)
	}

	// runtime
	rt := c.Runtime
	switch n := countSet(rt.Java != nil, rt.Command != nil, rt.Embedded != nil); {
	case n == 0:
		add(k("runtime"), "runtime: give one of java, command or embedded")
	case n > 1:
		add(k("runtime"), "runtime: give only one of java, command or embedded")
	}
	if j := rt.Java; j != nil {
		if j.URL == "" {
			add(k("runtime", "java"), "runtime.java.url is missing: the receiver's URL the nodes send to")
		}
		if j.Nodes < 0 {
			add(k("runtime", "java", "nodes"), "runtime.java.nodes must be 1 or more")
		}
	}
	if cm := rt.Command; cm != nil {
		if len(cm.Nodes) == 0 {
			add(k("runtime", "command"), "runtime.command.nodes is missing: one entry per node with name, stop, start and presents")
		}
		seen := map[string]bool{}
		for i, n := range cm.Nodes {
			line := lineOf(root, "runtime", "command", "nodes")
			if nodes := nodeAt(root, i); nodes != nil {
				line = nodes.Line
			}
			p := func(format string, args ...any) {
				cerr.problems = append(cerr.problems, fmt.Sprintf("line %d: %s", line, fmt.Sprintf(format, args...)))
			}
			if n.Name == "" {
				p("runtime.command.nodes[%d].name is missing", i)
			} else if seen[n.Name] {
				p("runtime.command.nodes: node %q is named twice", n.Name)
			}
			seen[n.Name] = true
			for key, argv := range map[string][]string{"stop": n.Stop, "start": n.Start, "presents": n.Presents} {
				if len(argv) == 0 {
					p("runtime.command.nodes[%d].%s is missing: the command, as a list of arguments", i, key)
				}
			}
		}
	}
	if e := rt.Embedded; e != nil && e.Nodes < 0 {
		add(k("runtime", "embedded", "nodes"), "runtime.embedded.nodes must be 1 or more")
	}

	// notifier
	if c.Notifier.Print && len(c.Notifier.Command) > 0 {
		add(k("notifier"), "notifier: give print or command, not both")
	}

	// sequence
	switch c.Sequence {
	case "", "choose", "overlap":
	case "downtime":
		if c.Window == nil {
			add(k("sequence"), "sequence downtime needs a window: window: {start: 2026-06-06T22:00:00Z, end: …, description: …}")
		}
	default:
		add(k("sequence"), "sequence %q: give overlap, downtime or choose", c.Sequence)
	}
	if w := c.Window; w != nil {
		for key, v := range map[string]string{"start": w.Start, "end": w.End} {
			if v == "" {
				continue
			}
			if _, err := time.Parse(time.RFC3339, v); err != nil {
				add(k("window", key), "window.%s %q is not a time such as 2026-06-06T22:00:00Z", key, v)
			}
		}
	}
	for step := range c.Waits {
		if !slices.Contains(stepIDs, renewal.StepID(step)) {
			add(k("waits", step), "waits: %q is not a step (steps: %s)", step, joinIDs(stepIDs))
		}
	}
}

// nodeAt returns the i-th node of runtime.command.nodes.
func nodeAt(root *yaml.Node, i int) *yaml.Node {
	n := root
	for _, key := range []string{"runtime", "command", "nodes"} {
		if n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == key {
				next = n.Content[j+1]
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	if n.Kind != yaml.SequenceNode || i >= len(n.Content) {
		return nil
	}
	return n.Content[i]
}

// checkPassword checks a password source: exactly one of env, file or
// prompt. A missing source is a problem only if required (a receiver's
// truststore may have the empty password).
func (c *config) checkPassword(p *passwordConfig, required bool, keys []string, name string, add func([]string, string, ...any)) {
	if p == nil {
		if required {
			add(keys[:len(keys)-1], "%s is missing: {env: NAME}, {file: PATH} or {prompt: true} (never the password itself)", name)
		}
		return
	}
	if p.invalid {
		return
	}
	if n := countSet(p.Env != "", p.File != "", p.Prompt); n != 1 {
		add(keys, "%s: give exactly one of env, file or prompt (never the password itself)", name)
	}
}

func countSet(b ...bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

var trustKinds = map[string]truststore.Kind{
	"": truststore.JKS, "JKS": truststore.JKS, "PKCS12": truststore.PKCS12, "PKCS#12": truststore.PKCS12,
	"PEM": truststore.PEMBundle,
}

var listFormats = map[string]command.ListFormat{
	"": command.SHA256List, "sha256": command.SHA256List, "nginx-map": command.NginxMap, "haproxy-acl": command.HAProxyACL,
}

// stepIDs are the steps of both sequences, for waits.
var stepIDs = func() []renewal.StepID {
	var ids []renewal.StepID
	for _, s := range []renewal.Sequence{renewal.SequenceOverlap, renewal.SequenceDowntime} {
		p, err := renewal.Build(s, exampleParams)
		if err != nil {
			panic(err) // the example parameters are valid
		}
		for _, st := range p.Steps {
			if !slices.Contains(ids, st.ID) {
				ids = append(ids, st.ID)
			}
		}
	}
	return ids
}()

var exampleParams = renewal.Params{
	Alias: "a", Keystore: "k", Nodes: []string{"n"},
	OldFingerprint:     strings.Repeat("11", 32),
	OldRootSubject:     "CN=Old",
	OldRootFingerprint: strings.Repeat("22", 32),
	NewRootSubject:     "CN=New",
	NewRootFingerprint: strings.Repeat("33", 32),
	Window:             renewal.Window{Description: "w"},
}

func joinIDs(ids []renewal.StepID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = string(id)
	}
	return strings.Join(s, ", ")
}

// loadConfig reads and checks the configuration file at path.
func loadConfig(path string) (*config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErr(fmt.Errorf("the configuration %s cannot be read: %w (certroll config example prints a template)", path, errors.Unwrap(err)))
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, usageErr(err)
	}
	c, err := parseConfig(path, data)
	if err != nil {
		return nil, err
	}
	c.dir = filepath.Dir(abs)
	c.path = abs
	return c, nil
}

// file resolves a path of the configuration against its directory.
func (c *config) file(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

// workDir is the directory a command of the configuration runs in: the
// one it names, relative to the configuration's folder, or that folder.
func (c *config) workDir(p string) string {
	if p == "" {
		return c.dir
	}
	return c.file(p)
}

// journal is the journal's path: beside the configuration.
func (c *config) journal() string { return c.path + ".journal" }

// readPassword reads the password p names; what names it in the prompt
// and in errors.
func (c *config) readPassword(p *passwordConfig, what string) ([]byte, error) {
	if p == nil {
		return nil, nil
	}
	src := &passwordSource{what: what, envName: p.Env, file: c.file(p.File)}
	return src.read()
}

func newConfigCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print a template of the renewal configuration, check one, or write a demo landscape",
		Example: `  certroll config example > renewal.yaml
  certroll config check renewal.yaml
  certroll config demo /tmp/demo`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &flagError{fmt.Errorf("config: unknown subcommand %q (see certroll config --help)", args[0])}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(&cobra.Command{
		Use:     "example",
		Short:   "Print a commented template of the renewal configuration",
		Example: "  certroll config example > renewal.yaml",
		Args:    exactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			_, err := e.stdout.Write(exampleConfig)
			return err
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:     "check CONFIG",
		Short:   "Check a renewal configuration and list every problem with its line",
		Example: "  certroll config check renewal.yaml",
		Args:    exactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if _, err := loadConfig(args[0]); err != nil {
				return err
			}
			if e.json {
				return e.writeJSON(map[string]any{"config": args[0], "valid": true})
			}
			fmt.Fprintf(e.stdout, "%s: no problems\n", args[0])
			return nil
		},
	})
	cmd.AddCommand(newConfigDemoCmd(e))
	return cmd
}

func init() { commands = append(commands, newConfigCmd) }
