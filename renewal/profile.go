package renewal

import "fmt"

// ReceiverProfile describes a receiver that is a back end behind a reverse
// proxy: the proxy terminates TLS and checks the client certificate against
// the CAs it trusts, and the back end maps the certificate to a technical
// user. The reference's example is SAP Web Dispatcher in front of an
// AS ABAP system; the profile says the same in general terms.
//
// With a profile, the receiver's configuration step (overlap step 3,
// downtime step 8) carries the reference's sub-tasks, in its order:
// make the proxy trust the new CA and restart it, map the new certificate in
// the back end, add the new CA to the proxy farm, upload it to the back end's
// certificate trust list, and map the new certificate to the inbound
// technical user. The overlap sequence's removal step (9) carries the
// reverse tasks for the old certificate and root; the reference does not
// list those, but removing the old root only from one place would leave it
// trusted in the others.
//
// Every field is optional: the zero ReceiverProfile describes an unnamed
// proxy and back end ("the reverse proxy", "the back end").
type ReceiverProfile struct {
	// Proxy names the reverse proxy, such as "SAP Web Dispatcher".
	Proxy string `json:"proxy,omitempty"`
	// ProxyFarm names the proxy farm (the set of proxy instances sharing
	// one configuration) in which the new CA is entered.
	ProxyFarm string `json:"proxy_farm,omitempty"`
	// ProxyOperator names who edits the proxy farm, such as "SAP IT", when
	// that is not the receiver administrator.
	ProxyOperator string `json:"proxy_operator,omitempty"`
	// Backend names the back end, such as "AS ABAP".
	Backend string `json:"backend,omitempty"`
	// TrustList names where the back end's trusted CAs are edited, such as
	// "Edit Certificate Trust List".
	TrustList string `json:"trust_list,omitempty"`
	// TechnicalUser names the inbound technical user the client
	// certificate is mapped to in the communication arrangement.
	TechnicalUser string `json:"technical_user,omitempty"`
}

func (r *ReceiverProfile) proxy() string {
	if r.Proxy == "" {
		return "the reverse proxy"
	}
	return fmt.Sprintf("the reverse proxy %q", r.Proxy)
}

func (r *ReceiverProfile) backend() string {
	if r.Backend == "" {
		return "the back end"
	}
	return fmt.Sprintf("the back end %q", r.Backend)
}

func (r *ReceiverProfile) farm() string {
	s := "the proxy farm"
	if r.ProxyFarm != "" {
		s = fmt.Sprintf("the proxy farm %q", r.ProxyFarm)
	}
	if r.ProxyOperator != "" {
		s += fmt.Sprintf(" (this is done by %q)", r.ProxyOperator)
	}
	return s
}

func (r *ReceiverProfile) trustList() string {
	if r.TrustList == "" {
		return "the back end's certificate trust list"
	}
	return fmt.Sprintf("the back end's certificate trust list (%q)", r.TrustList)
}

func (r *ReceiverProfile) technicalUser() string {
	if r.TechnicalUser == "" {
		return "the inbound technical user"
	}
	return fmt.Sprintf("the inbound technical user %q", r.TechnicalUser)
}

// acceptTasks returns the sub-tasks of the receiver's configuration step.
// keepOld is true in the overlap sequence, where the old certificate stays
// accepted next to the new one.
func (r *ReceiverProfile) acceptTasks(t *text, keepOld bool) []string {
	mapping := "instead of the old certificate (" + t.oldCert() + ")"
	if keepOld {
		mapping = "next to the old certificate (" + t.oldCert() + "), which stays mapped for now"
	}
	return []string{
		fmt.Sprintf("Make %s trust the new root CA %s, then restart it: the restart finalises the trust configuration.", r.proxy(), t.newRoot()),
		fmt.Sprintf("Map the new client certificate (%s) in %s for authentication, %s.", t.newCert(), r.backend(), mapping),
		fmt.Sprintf("Enter the new root CA in the configuration of %s.", r.farm()),
		fmt.Sprintf("Upload the new root CA to %s.", r.trustList()),
		fmt.Sprintf("Update the credentials of the communication arrangement so that the new client certificate is mapped to %s.", r.technicalUser()),
	}
}

// removeTasks returns the sub-tasks of the removal step: the acceptance
// tasks in reverse, for the old certificate and root. withClient is true in
// the overlap sequence; in the downtime sequence the old client
// certificate was replaced at step 8, and only the old root is left.
func (r *ReceiverProfile) removeTasks(t *text, withClient bool) []string {
	if !withClient {
		return []string{
			fmt.Sprintf("Remove the old root CA %s from %s.", t.oldRoot(), r.trustList()),
			fmt.Sprintf("Remove the old root CA from the configuration of %s.", r.farm()),
			fmt.Sprintf("Remove the old root CA from the CAs %s trusts, then restart it.", r.proxy()),
		}
	}
	return []string{
		fmt.Sprintf("Remove the old client certificate (%s) from the communication arrangement of %s.", t.oldCert(), r.technicalUser()),
		fmt.Sprintf("Remove the old root CA %s from %s.", t.oldRoot(), r.trustList()),
		fmt.Sprintf("Remove the old root CA from the configuration of %s.", r.farm()),
		fmt.Sprintf("Remove the old client certificate's mapping in %s.", r.backend()),
		fmt.Sprintf("Remove the old root CA from the CAs %s trusts, then restart it.", r.proxy()),
	}
}
