// Package temporal runs certificate renewals on Temporal
// (go.temporal.io/sdk): one plan of package renewal as a workflow whose
// steps are activities, and campaigns of many renewals as child
// workflows. It is a module of its own, so that importing keystore or
// renewal never pulls the SDK.
package temporal
