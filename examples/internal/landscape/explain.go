package landscape

import "strings"

// goNames maps the Go names that the renewal package's messages use
// (precise for a program that sets them) to what a person running the
// examples knows: a flag, or the thing itself.
var goNames = strings.NewReplacer(
	"(Executor.Drain)", "(-drain)",
	"Executor.Drain", "-drain",
	" (Executor.Now)", "",
	"give it in Executor.OldRoot", "the example gives it from old-ca/ca.pem in the landscape's directory",
	"Executor.OldRoot", "the old CA's root certificate (old-ca/ca.pem)",
	"HandOverDir", "hand-over directory",
)

// Explain returns err's message as the examples print it: the Go names
// of the renewal package's options are replaced by the flags and files a
// person running the example knows. It returns "" for a nil err.
func Explain(err error) string {
	if err == nil {
		return ""
	}
	return goNames.Replace(err.Error())
}
