// Command certroll renews a TLS client certificate whose new issuer is a
// different CA, on both sides of the connection, without writing Go: it
// lists and changes keystores and truststores as keytool and openssl do,
// checks a chain against a receiver, and plans and runs a renewal of a
// real landscape from one configuration file.
//
// Run "certroll --help" for the commands, and "certroll COMMAND --help" for
// each with an example. The exit codes are:
//
//	0  done
//	1  internal error (a bug, or the system failed: disk full, no memory)
//	2  bad input: a flag, argument, configuration or file that cannot be used
//	3  waiting for a person or the CA: run the same command again later
//	4  refused by a gate or a check: the renewal or change stopped safely
//
// Passwords are never read from the command line or a configuration file:
// each comes from an environment variable, a file, or a prompt on the
// terminal.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
