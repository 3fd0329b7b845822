package metrics

func newHTTPTable() *counterTable {
	n := len(httpStatusClasses)
	return newCounterTable(counterVec(nameHTTPRequests), len(httpMethods)*n, func(i int) []string {
		return []string{httpMethods[i/n], httpStatusClasses[i%n]}
	})
}

func newDNSTable() *counterTable {
	return newCounterTable(counterVec(nameDNSQueries), len(dnsRcodeNames), func(i int) []string {
		return []string{dnsRcodeNames[i]}
	})
}

// HTTPRequest counts one HTTP request: method as sent (GET, POST…; any
// other method, and any lowercase one, counts as OTHER) and the status code
// of its response (0 when no response was seen: the request was dropped or
// the connection closed first).
func (m *Metrics) HTTPRequest(method string, status int) {
	m.HTTPRequestOf(ParseHTTPMethod(method), status)
}

// HTTPRequestOf is HTTPRequest for a method already parsed (what a flow
// keeps while its request waits for the response).
func (m *Metrics) HTTPRequestOf(method HTTPMethod, status int) {
	m.http.at(int(min(method, httpMethodOther))*len(httpStatusClasses) + httpStatusClassIndex(status)).Inc()
}

// DNSQuery counts one DNS query by the response code of its answer
// (0 NOERROR, 3 NXDOMAIN…; codes above 23 count as OTHER).
func (m *Metrics) DNSQuery(rcode int) {
	m.dns.at(dnsRcodeIndex(rcode)).Inc()
}
