package dataplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"bulkhead.dev/bulkhead/dataplane/internal/nfq"
	"golang.org/x/sys/unix"
)

// Mechanism is how a decision reaches the connmark.
type Mechanism string

const (
	// MechanismAuto detects the mechanism at Start.
	MechanismAuto Mechanism = "auto"
	// MechanismRepeat sets the packet mark in an NF_REPEAT verdict; the
	// packet re-enters the chain where CONNMARK --save-mark records it.
	// Works on every kernel.
	MechanismRepeat Mechanism = "repeat"
	// MechanismVerdict sets the connmark in the verdict itself (NFQA_CT),
	// which needs CONFIG_NETFILTER_NETLINK_GLUE_CT. Denials still use
	// NF_REPEAT so that TCP gets a reset.
	MechanismVerdict Mechanism = "verdict"
)

// ParseMechanism accepts auto, repeat or verdict.
func ParseMechanism(s string) (Mechanism, error) {
	switch m := Mechanism(s); m {
	case MechanismAuto, MechanismRepeat, MechanismVerdict:
		return m, nil
	case "":
		return MechanismAuto, nil
	}
	return "", fmt.Errorf("dataplane: unknown connmark mechanism %q (want auto, repeat or verdict)", s)
}

// Config configures a Dataplane. Zero values are the defaults.
type Config struct {
	// Decider decides queued packets. Required.
	Decider Decider
	// Queues is the number of queues and readers; default the number of
	// CPUs. QueueBase is the first queue number (default 0).
	Queues    int
	QueueBase uint16
	// FailClosed drops packets when no reader is bound or the queue is
	// full, and gives undecodable packets the drop verdict. The default,
	// fail-open, lets them pass.
	FailClosed bool
	// Balance spreads packets over the queues; default BalanceHash.
	Balance Balance
	// Marks default to DefaultMarks.
	Marks Marks
	// Mechanism defaults to MechanismAuto.
	Mechanism Mechanism
	// Runner runs iptables; default an ExecRunner for Backend.
	Runner Runner
	// Backend selects the iptables backend when Runner is nil; default
	// BackendAuto.
	Backend Backend
	// ProcRoot is where /proc is; default "/proc".
	ProcRoot string
	// QueueLen is how many packets the kernel holds per queue; default
	// 4096. CopyLen is how many bytes of each packet are copied to user
	// space; default 65531 (the maximum: whole GSO packets).
	QueueLen uint32
	CopyLen  uint32
	// RcvBuf is each queue socket's receive buffer; default 32 MiB.
	// Batch is the most messages read per receive call; default 64.
	RcvBuf int
	Batch  int
	// CheckLink reports whether a link can be attached; default: it
	// exists in the calling process's network namespace.
	CheckLink func(name string) error
	// Logger defaults to discarding; Clock to time.Now.
	Logger *slog.Logger
	Clock  func() time.Time

	// openQueue opens and binds a queue; tests replace it.
	openQueue func(qc queueConfig) (queueConn, error)
}

// queueConfig is what opening one queue needs.
type queueConfig struct {
	queue    uint16
	copyLen  uint32
	queueLen uint32
	flags    uint32
	rcvBuf   int
	batch    int
	failOpen bool
	procRoot string // where to look when the bind is refused
}

func (c *Config) defaults() error {
	if c.Decider == nil {
		return errors.New("dataplane: config: no Decider")
	}
	if c.Queues == 0 {
		c.Queues = runtime.NumCPU()
	}
	if c.Balance == "" {
		c.Balance = BalanceHash
	}
	if c.Marks == (Marks{}) {
		c.Marks = DefaultMarks
	}
	if c.Mechanism == "" {
		c.Mechanism = MechanismAuto
	}
	if _, err := ParseMechanism(string(c.Mechanism)); err != nil {
		return err
	}
	if c.Backend == "" {
		c.Backend = BackendAuto
	}
	if _, err := ParseBackend(string(c.Backend)); err != nil {
		return err
	}
	if c.ProcRoot == "" {
		c.ProcRoot = "/proc"
	}
	if c.QueueLen == 0 {
		c.QueueLen = 4096
	}
	if c.CopyLen == 0 {
		c.CopyLen = 0xffff - 4
	}
	if c.CheckLink == nil {
		c.CheckLink = checkLink
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.openQueue == nil {
		c.openQueue = openNFQueue
	}
	_, err := BuildRules(c.ruleSpec(nil))
	return err
}

func (c *Config) ruleSpec(veths []Veth) RuleSpec {
	return RuleSpec{Veths: veths, Queues: c.Queues, QueueBase: c.QueueBase, FailOpen: !c.FailClosed, Balance: c.Balance, Marks: c.Marks}
}

// checkLink reports an error naming a link that does not exist.
func checkLink(name string) error {
	if _, err := net.InterfaceByName(name); err != nil {
		return fmt.Errorf("no such interface: %w", err)
	}
	return nil
}

// Dataplane attaches Bulkhead to container veths: it owns the queue
// readers and the iptables rules. Create it with New; Start and Close are
// safe to call twice; Attach, Detach and Stats are safe for concurrent use.
type Dataplane struct {
	cfg Config
	log *slog.Logger

	mu        sync.Mutex // serialises Start, Close, Attach, Detach and rule changes
	veths     map[string]Veth
	started   bool
	closed    bool
	runner    Runner
	mechanism Mechanism
	readers   []*reader
	conns     []queueConn
	wg        sync.WaitGroup
}

// New checks cfg and returns a Dataplane that does nothing until Start.
func New(cfg Config) (*Dataplane, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	return &Dataplane{cfg: cfg, log: cfg.Logger, veths: map[string]Veth{}}, nil
}

// Start binds the queues, detects the connmark mechanism, starts one reader
// per queue and installs the rules for the veths attached so far, removing
// stale Bulkhead rules left by a previous run in the same atomic batch.
func (d *Dataplane) Start(ctx context.Context) (err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errors.New("dataplane: start: already closed")
	}
	if d.started {
		return nil
	}
	defer func() {
		if err != nil {
			d.closeConns()
		}
	}()
	d.runner = d.cfg.Runner
	if d.runner == nil {
		b := d.cfg.Backend
		if b == BackendAuto {
			if b, err = DetectBackend(ctx, nil); err != nil {
				return err
			}
		}
		d.runner = &ExecRunner{Backend: b}
		d.log.Info("dataplane: iptables backend", "backend", b)
	}
	if err := d.openQueues(); err != nil {
		return err
	}
	if err := d.applyLocked(ctx); err != nil {
		return err
	}
	for _, r := range d.readers {
		d.wg.Add(1)
		go d.runReader(r)
	}
	d.started = true
	for _, v := range d.sortedVeths() {
		d.log.Info("dataplane: attached", "veth", v.Name, "bridge", v.Bridge, "addrs", v.Addrs)
	}
	d.log.Info("dataplane: started", "queues", d.cfg.Queues, "first_queue", d.cfg.QueueBase,
		"fail_open", !d.cfg.FailClosed, "balance", d.cfg.Balance, "connmark_mechanism", d.mechanism,
		"veths", len(d.veths))
	return nil
}

// openQueues binds every queue; the first one also probes the mechanism.
func (d *Dataplane) openQueues() error {
	base := nfq.FlagGSO
	if !d.cfg.FailClosed {
		base |= nfq.FlagFailOpen
	}
	d.mechanism = d.cfg.Mechanism
	for i := 0; i < d.cfg.Queues; i++ {
		q := d.cfg.QueueBase + uint16(i)
		qc := queueConfig{queue: q, copyLen: d.cfg.CopyLen, queueLen: d.cfg.QueueLen, flags: base,
			rcvBuf: d.cfg.RcvBuf, batch: d.cfg.Batch, failOpen: !d.cfg.FailClosed, procRoot: d.cfg.ProcRoot}
		if d.mechanism != MechanismRepeat {
			qc.flags |= nfq.FlagConntrack
		}
		c, err := d.cfg.openQueue(qc)
		if err != nil && errors.Is(err, unix.EOPNOTSUPP) && qc.flags&nfq.FlagConntrack != 0 {
			if d.mechanism == MechanismVerdict {
				return fmt.Errorf("dataplane: queue %d: connmark mechanism %q needs a kernel with CONFIG_NETFILTER_NETLINK_GLUE_CT: %w", q, MechanismVerdict, err)
			}
			// No conntrack glue: connmarks in verdicts would be
			// ignored, so use NF_REPEAT and CONNMARK --save-mark.
			d.mechanism = MechanismRepeat
			qc.flags &^= nfq.FlagConntrack
			c, err = d.cfg.openQueue(qc)
		}
		if err != nil {
			return err
		}
		if d.mechanism == MechanismAuto {
			d.mechanism = MechanismVerdict
		}
		d.conns = append(d.conns, c)
		d.readers = append(d.readers, newReader(q, c, d.cfg.Decider, d.cfg.Marks, !d.cfg.FailClosed, d.mechanism == MechanismVerdict, d.cfg.Clock))
	}
	return nil
}

// openNFQueue opens a netlink socket bound to one queue.
func openNFQueue(qc queueConfig) (queueConn, error) {
	c, err := nfq.Open(nfq.Options{Batch: qc.batch, RcvBuf: qc.rcvBuf})
	if err != nil {
		return nil, fmt.Errorf("dataplane: queue %d: %w", qc.queue, err)
	}
	pending := nfq.NFDrop
	if qc.failOpen {
		pending = nfq.NFAccept
	}
	err = c.Bind(nfq.Config{Queue: qc.queue, CopyLen: qc.copyLen, MaxLen: qc.queueLen,
		Flags: qc.flags, FlagMask: nfq.FlagGSO | nfq.FlagFailOpen | nfq.FlagConntrack}, pending)
	if err != nil {
		c.Close()
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EBUSY) {
			return nil, bindRefused(qc, err)
		}
		return nil, fmt.Errorf("dataplane: queue %d: %w", qc.queue, err)
	}
	return c, nil
}

// bindRefused explains a refused bind. The kernel answers EPERM both when
// another socket (another process, e.g. a second bulkhead) holds the queue
// and when the caller lacks CAP_NET_ADMIN; the kernel's list of bound
// queues tells which. (EBUSY is a second bind from the same socket.)
func bindRefused(qc queueConfig, err error) error {
	procs, perr := ReadProcQueues(qc.procRoot)
	if perr != nil {
		return fmt.Errorf("dataplane: queue %d: bind refused: bound by another process, or no CAP_NET_ADMIN (%v): %w", qc.queue, perr, err)
	}
	for _, p := range procs {
		if p.Queue == qc.queue {
			return fmt.Errorf("dataplane: queue %d is bound by another process (another bulkhead?): the kernel lists it bound to netlink port id %d in %s; stop that process or choose another first queue: %w",
				qc.queue, p.PortID, filepath.Join(qc.procRoot, procQueuePath), err)
		}
	}
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("dataplane: queue %d: bind refused: binding a queue needs CAP_NET_ADMIN in the network namespace: %w", qc.queue, err)
	}
	return fmt.Errorf("dataplane: queue %d: bind refused: %w", qc.queue, err)
}

// runReader runs a reader until its connection closes, restarting its loop
// after unexpected receive errors.
func (d *Dataplane) runReader(r *reader) {
	defer d.wg.Done()
	for {
		err := r.loop()
		if err == nil {
			return
		}
		d.log.Error("dataplane: queue reader", "queue", r.queue, "err", err)
		time.Sleep(100 * time.Millisecond)
	}
}

// Attach adds (or updates) a veth and re-applies the rule set. The error
// names the veth when it or one of its addresses cannot be used; the rules
// are then unchanged.
func (d *Dataplane) Attach(ctx context.Context, v Veth) error {
	if err := v.validate(); err != nil {
		return err
	}
	if err := d.cfg.CheckLink(v.Name); err != nil {
		return fmt.Errorf("dataplane: attach %s: %w", v.Name, err)
	}
	if v.Bridged() {
		if err := d.cfg.CheckLink(v.Bridge); err != nil {
			return fmt.Errorf("dataplane: attach %s: bridge %s: %w", v.Name, v.Bridge, err)
		}
	}
	v.Addrs = slices.Clone(v.Addrs)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return fmt.Errorf("dataplane: attach %s: closed", v.Name)
	}
	old, had := d.veths[v.Name]
	if had && sameVeth(old, v) {
		return nil // already attached as is: nothing to re-apply
	}
	d.veths[v.Name] = v
	if !d.started {
		return nil
	}
	if err := d.applyLocked(ctx); err != nil {
		if had {
			d.veths[v.Name] = old
		} else {
			delete(d.veths, v.Name)
		}
		return errors.Join(fmt.Errorf("dataplane: attach %s: %w", v.Name, err), d.applyLocked(ctx))
	}
	d.log.Info("dataplane: attached", "veth", v.Name, "bridge", v.Bridge, "addrs", v.Addrs)
	return nil
}

func sameVeth(a, b Veth) bool {
	return a.Name == b.Name && a.Bridge == b.Bridge && slices.Equal(a.Addrs, b.Addrs)
}

// Detach removes a veth's rules. Detaching an unknown veth does nothing.
func (d *Dataplane) Detach(ctx context.Context, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	old, had := d.veths[name]
	if !had {
		return nil
	}
	delete(d.veths, name)
	if !d.started || d.closed {
		return nil
	}
	if err := d.applyLocked(ctx); err != nil {
		d.veths[name] = old
		return fmt.Errorf("dataplane: detach %s: %w", name, err)
	}
	d.log.Info("dataplane: detached", "veth", name)
	return nil
}

// Veths returns the attached veths, sorted by name.
func (d *Dataplane) Veths() []Veth {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sortedVeths()
}

func (d *Dataplane) sortedVeths() []Veth {
	out := make([]Veth, 0, len(d.veths))
	for _, v := range d.veths {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b Veth) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// applyLocked replaces the installed rules with the rules for the current
// veths: one atomic iptables-restore batch per family.
func (d *Dataplane) applyLocked(ctx context.Context) error {
	sets, err := BuildRules(d.cfg.ruleSpec(d.sortedVeths()))
	if err != nil {
		return err
	}
	for _, rs := range sets {
		out, err := d.runner.Save(ctx, rs.Family)
		if err != nil {
			return err
		}
		cur, err := ParseSave(out)
		if err != nil {
			return err
		}
		if len(cur.Chains) > 0 && !d.started {
			d.log.Info("dataplane: replacing existing Bulkhead rules (left by a previous run)", "family", rs.Family, "chains", len(cur.Chains), "jumps", len(cur.Jumps))
		}
		if err := d.runner.Restore(ctx, rs.Family, ApplyScript(rs, cur)); err != nil {
			return err
		}
	}
	return nil
}

// removeRules removes every Bulkhead chain and jump.
func (d *Dataplane) removeRules(ctx context.Context) error {
	var errs []error
	for _, fam := range []Family{IPv4, IPv6} {
		out, err := d.runner.Save(ctx, fam)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cur, err := ParseSave(out)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if s := RemoveScript(cur); s != nil {
			errs = append(errs, d.runner.Restore(ctx, fam, s))
		}
	}
	return errors.Join(errs...)
}

// Close removes the rules, then unbinds the queues and waits for the
// readers. Safe to call twice.
func (d *Dataplane) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	var err error
	if d.started {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = d.removeRules(ctx)
		cancel()
	}
	d.closeConns()
	d.wg.Wait()
	if err != nil {
		return fmt.Errorf("dataplane: close: %w", err)
	}
	d.log.Info("dataplane: stopped; rules removed")
	return nil
}

func (d *Dataplane) closeConns() {
	for _, c := range d.conns {
		_ = c.Close()
	}
}

// Mechanism returns the connmark mechanism in use (after Start).
func (d *Dataplane) Mechanism() Mechanism {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mechanism
}

// Stats returns a snapshot of the counters. The kernel's per-queue
// counters come from /proc/net/netfilter/nfnetlink_queue; if it cannot be
// read, or does not list a queue this Dataplane holds bound (a ProcRoot of
// another network namespace), those counters are zero and the error is
// returned with the rest.
func (d *Dataplane) Stats() (Stats, error) {
	d.mu.Lock()
	readers := slices.Clone(d.readers)
	mech := d.mechanism
	bound := d.started && !d.closed
	d.mu.Unlock()
	s := Stats{FailOpen: !d.cfg.FailClosed, Mechanism: mech}
	procs, err := ReadProcQueues(d.cfg.ProcRoot)
	var unlisted []string
	for _, r := range readers {
		c := r.counters
		q := QueueStats{Queue: r.queue, Packets: c.packets.Load(), Bursts: c.bursts.Load(),
			VerdictMsgs: c.verdictMsgs.Load(), Overruns: c.overruns.Load()}
		for _, p := range procs {
			if p.Queue == r.queue {
				q.KernelBound, q.KernelPortID, q.KernelWaiting = true, p.PortID, p.Waiting
				q.KernelDropped, q.KernelUserDropped, q.KernelIDSequence = p.Dropped, p.UserDropped, p.IDSequence
			}
		}
		if bound && err == nil && !q.KernelBound {
			unlisted = append(unlisted, strconv.Itoa(int(r.queue)))
		}
		s.Queues = append(s.Queues, q)
		s.Queued += q.Packets
		s.VerdictMsgs += q.VerdictMsgs
		s.Overruns += q.Overruns
		s.KernelDropped += uint64(q.KernelDropped)
		s.KernelUserDropped += uint64(q.KernelUserDropped)
		for i := range s.Verdicts {
			s.Verdicts[i] += c.verdicts[i].Load()
		}
		s.Accepted += c.accepted.Load()
		s.Dropped += c.dropped.Load()
		s.DecodeErrors += c.decodeErrors.Load()
		s.BadMessages += c.badMessages.Load()
		s.DeciderPanics += c.deciderPanics.Load()
		s.VerdictErrors += c.verdictErrors.Load()
		s.SendErrors += c.sendErrors.Load()
		s.RecvErrors += c.recvErrors.Load()
	}
	if len(unlisted) > 0 {
		err = fmt.Errorf("dataplane: kernel queue counters: %s does not list queue %s, which this process holds bound (ProcRoot of another network namespace?)",
			filepath.Join(d.cfg.ProcRoot, procQueuePath), strings.Join(unlisted, ", "))
	}
	return s, err
}
