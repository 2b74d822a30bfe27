package local

import "os"

// Java decodes its command-line arguments (aliases, paths) and reads
// password files in the charset of the locale it starts in; under the
// POSIX locale an alias such as "grüße" reaches keytool mangled. The tools
// the tests run get a UTF-8 locale whatever the environment has.
func init() {
	if err := os.Setenv("LC_ALL", "C.UTF-8"); err != nil {
		panic(err)
	}
}
