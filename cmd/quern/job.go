package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"
	"github.com/urfave/cli/v2"

	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/compute"
	"github.com/quern-chain/quern/consensus"
	"github.com/quern-chain/quern/node"
	"github.com/quern-chain/quern/vm"
)

var (
	matAFlag = &cli.StringFlag{
		Name:     "a",
		Usage:    "left matrix A: an int8 2-D `FILE.npy` (np.save(path, a.astype(np.int8)))",
		Required: true,
	}
	matBFlag = &cli.StringFlag{
		Name:     "b",
		Usage:    "right matrix B: an int8 2-D `FILE.npy` with as many rows as A has columns",
		Required: true,
	}
	jobFeeFlag = &cli.StringFlag{
		Name:  "fee",
		Usage: "`AMOUNT` of QRN escrowed for the job: at least its base fee (the command tells you the base fee when it is missing or too low)",
	}
	expiryFlag = &cli.Uint64Flag{
		Name:  "expiry",
		Usage: "`BLOCKS` from the current head after which an undone job expires and its fee, less the program's byte fee, is refunded (at most the node's job lifetime)",
		Value: 1000, // within the devnet's 1800-block job lifetime
	}
	jobTimeoutFlag = &cli.DurationFlag{
		Name:  "timeout",
		Usage: "how long --wait waits (`DURATION`: 90s, 5m, 1h)",
		Value: 5 * time.Minute,
	}
	outFlag = &cli.StringFlag{
		Name:     "out",
		Usage:    "write a matmul job's int32 product to `FILE.npy`, a training job's model to DIR (model.json, w0.npy…, b0.npy…)",
		Required: true,
	}
)

var jobCommand = &cli.Command{
	Name:  "job",
	Usage: "submit paid compute jobs and fetch their results",
	Subcommands: []*cli.Command{
		{
			Name:  "submit",
			Usage: "submit a job",
			Subcommands: []*cli.Command{
				{
					Name:      "matmul",
					Usage:     "submit the int8 matrix product A·B (int32 result)",
					ArgsUsage: " ",
					Flags:     []cli.Flag{rpcFlag, keystoreFlag, fromFlag, matAFlag, matBFlag, jobFeeFlag, expiryFlag, passwordFileFlag, waitFlag, jobTimeoutFlag, pollFlag},
					Action:    jobSubmitMatMul,
				},
				jobSubmitTrainCommand,
			},
		},
		{
			Name:      "status",
			Usage:     "print a job's status, fee and miner",
			ArgsUsage: "JOB-ID",
			Flags:     []cli.Flag{rpcFlag, jsonFlag},
			Action:    jobStatus,
		},
		jobListCommand,
		{
			Name:      "result",
			Usage:     "write a done job's int32 product to a .npy file, or a training job's model to a directory",
			ArgsUsage: "JOB-ID",
			Flags:     []cli.Flag{rpcFlag, outFlag, jsonFlag, waitFlag, jobTimeoutFlag, pollFlag},
			Action:    jobResult,
		},
	},
}

// loadMatMul reads the two inputs and builds the job program, checking its
// shapes locally so that a bad input never costs a fee (or a node).
func loadMatMul(pathA, pathB string) (program []byte, err error) {
	var a, b compute.I8
	if a.Rows, a.Cols, a.Data, err = readInt8Matrix(pathA); err != nil {
		return nil, err
	}
	if b.Rows, b.Cols, b.Data, err = readInt8Matrix(pathB); err != nil {
		return nil, err
	}
	if a.Cols != b.Rows {
		return nil, fmt.Errorf("%s is %d×%d but %s is %d×%d: b needs %d rows", pathA, a.Rows, a.Cols, pathB, b.Rows, b.Cols, a.Cols)
	}
	if a.Cols > compute.MaxK {
		return nil, fmt.Errorf("%s is %d×%d: the inner dimension may be at most %d", pathA, a.Rows, a.Cols, compute.MaxK)
	}
	program, err = vm.Encode(vm.NewMatMul(a, b))
	if err != nil {
		return nil, fmt.Errorf("encoding the job: %v", err)
	}
	return program, nil
}

// checkJob checks a job program and its expiry (blocks after the head)
// against the node's caps, as the node will, before anything is signed:
// the error names the cap and the numbers. It returns the decoded program.
func checkJob(program []byte, blocks uint64, limits *node.RPCJobLimits) (*vm.Program, error) {
	lim, err := jobVMLimits(limits)
	if err != nil {
		return nil, fmt.Errorf("node's job limits: %v", err)
	}
	p, err := vm.Decode(program, lim)
	if err != nil {
		return nil, fmt.Errorf("job rejected before sending: %v", err)
	}
	if blocks > limits.MaxLifetime {
		return nil, fmt.Errorf("--expiry %d is more than the node's job lifetime of %d blocks; pass --expiry %d or less", blocks, limits.MaxLifetime, limits.MaxLifetime)
	}
	// The signed tx: its fields and a 65-byte signature around the program.
	size := types.TxEncodedSize(&types.Tx{Kind: types.TxJob, Value: new(uint256.Int), Fee: new(uint256.Int).SetAllOne(),
		Expiry: ^uint64(0), Program: program, Sig: make([]byte, 65)})
	if size > limits.MaxTxBytes {
		return nil, fmt.Errorf("job rejected before sending: the job tx is %d bytes, more than the node's %d-byte transaction limit; submit smaller inputs", size, limits.MaxTxBytes)
	}
	return p, nil
}

// jobSubmission is what every `job submit` kind has checked before it
// prices and sends its program: the sender and its key, the fee given (nil:
// none), the expiry, the node and its caps, and the decoded program.
type jobSubmission struct {
	from    common.Address
	key     *signer
	fee     *uint256.Int
	blocks  uint64
	nc      *nodeClient
	chainID uint64
	limits  *node.RPCJobLimits
	program []byte
	prog    *vm.Program
}

// prepareJob parses the flags every job kind shares, builds the program
// with load (before touching the keystore or the node, so a bad input file
// fails first), unlocks the key, dials the node and checks the program
// against the node's caps. The caller closes sub.nc.
func prepareJob(c *cli.Context, load func() ([]byte, error)) (*jobSubmission, error) {
	if err := noArgs(c); err != nil {
		return nil, err
	}
	sub := &jobSubmission{}
	var err error
	if sub.from, err = parseAddress(c.String(fromFlag.Name)); err != nil {
		return nil, about(err, "--from")
	}
	if s := c.String(jobFeeFlag.Name); s != "" {
		if sub.fee, err = parseQRN(s); err != nil {
			return nil, about(err, "--fee")
		}
	}
	if sub.blocks = c.Uint64(expiryFlag.Name); sub.blocks == 0 {
		return nil, errors.New("--expiry must be at least 1 block")
	}
	if sub.program, err = load(); err != nil {
		return nil, err
	}
	if sub.key, err = findKey(c, sub.from); err != nil {
		return nil, err
	}
	if sub.nc, err = dial(c); err != nil {
		return nil, err
	}
	info, err := node.Quern.NodeInfo.Call(c.Context, sub.nc)
	if err != nil {
		sub.nc.Close()
		return nil, about(err, "node info")
	}
	sub.chainID = info.ChainID
	limits, err := node.Quern.JobLimits.Call(c.Context, sub.nc)
	if sub.limits = &limits; err != nil {
		sub.nc.Close()
		return nil, about(err, "job limits")
	}
	if sub.prog, err = checkJob(sub.program, sub.blocks, sub.limits); err != nil {
		sub.nc.Close()
		return nil, err
	}
	return sub, nil
}

// send signs and sends the checked job (submitJob), summary naming it.
func (sub *jobSubmission) send(c *cli.Context, summary string) error {
	return submitJob(c, sub.nc, sub.key, sub.from, sub.chainID, sub.fee, sub.blocks, sub.program, summary)
}

func jobSubmitMatMul(c *cli.Context) error {
	sub, err := prepareJob(c, func() ([]byte, error) {
		return loadMatMul(c.String(matAFlag.Name), c.String(matBFlag.Name))
	})
	if err != nil {
		return err
	}
	defer sub.nc.Close()
	prog := sub.prog
	work, bytes := prog.Work(), consensus.JobBytes(len(sub.program), prog.Inputs[0].Rows, prog.Inputs[1].Cols)
	if err := checkJobFee(c, sub.nc, sub.limits, sub.fee, work, bytes, "program and result", ""); err != nil {
		return err
	}
	return sub.send(c, fmt.Sprintf("job of %d MACs", work))
}

// checkJobFee asks the node for the base fee of a job of work MACs taking
// bytes of block space (what names them) and refuses a missing or lower
// fee, saying what to pass; note adds to the advice.
func checkJobFee(c *cli.Context, nc *nodeClient, limits *node.RPCJobLimits, fee *uint256.Int, work, bytes uint64, what, note string) error {
	base, err := nc.JobBaseFee(c.Context, work, bytes)
	if err != nil {
		return about(err, "base fee")
	}
	byteFee, err := uint256.FromDecimal(limits.JobByteFee)
	if err != nil {
		return fmt.Errorf("node's job byte fee %q: %v", limits.JobByteFee, err)
	}
	why := fmt.Sprintf("%d MACs, and %d bytes of %s at %s QRN a byte", work, bytes, what, formatQRN(byteFee))
	if fee == nil {
		return fmt.Errorf("--fee is required: this job's base fee is %s QRN (%s); pass --fee %s or more%s", formatQRN(base), why, formatQRN(base), note)
	}
	if fee.Lt(base) {
		return fmt.Errorf("fee %s QRN is below this job's base fee %s QRN (%s); pass --fee %s or more%s", formatQRN(fee), formatQRN(base), why, formatQRN(base), note)
	}
	return nil
}

// submitJob signs and sends a job tx of program escrowing fee, expiring
// blocks after the head, prints its id (stdout) and what was sent (stderr,
// summary names the job), and with --wait waits until it is done.
func submitJob(c *cli.Context, nc *nodeClient, key *signer, from common.Address, chainID uint64, fee *uint256.Int, blocks uint64, program []byte, summary string) error {
	head, err := node.Quern.BlockNumber.Call(c.Context, nc)
	if err != nil {
		return about(err, "head")
	}
	tx := &types.Tx{ChainID: chainID, Kind: types.TxJob, Value: new(uint256.Int), Fee: fee, Expiry: head + blocks, Program: program}
	id, err := sendTx(c, nc, key, from, tx)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer, id.Hex())
	fmt.Fprintf(c.App.ErrWriter, "%s submitted with fee %s QRN; it expires after block %d\n", summary, formatQRN(fee), tx.Expiry)
	if !c.Bool(waitFlag.Name) {
		return nil
	}
	job, err := waitJob(c, nc, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.ErrWriter, "done in block %d\n", job.DoneBlock)
	return nil
}

// waitJob polls until the job is done; an expired job or the timeout is an
// error.
func waitJob(c *cli.Context, nc *nodeClient, id common.Hash) (*node.RPCJob, error) {
	ctx, cancel := waitCtx(c)
	defer cancel()
	tick := time.NewTicker(c.Duration(pollFlag.Name))
	defer tick.Stop()
	status := "not yet known to the node"
	progress := newTrainProgress(c.App.ErrWriter)
	defer progress.end()
	for {
		job, err := nc.Job(ctx, id)
		if err == nil {
			progress.show(job)
		}
		switch {
		case err == nil && job.Status == "done":
			return job, nil
		case err == nil && job.Status == "expired":
			return nil, expiredError(job)
		case err == nil:
			status = job.Status
			if job.Kind == "train" {
				status = fmt.Sprintf("%s at %d of %d steps", job.Status, job.StepsDone, job.Steps)
			}
		case !isNodeError(err) && ctx.Err() == nil:
			return nil, err
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			if c.Context.Err() != nil {
				return nil, errors.New("interrupted while waiting")
			}
			return nil, fmt.Errorf("job %s still %s after %s; check later with \"quern job status %s\"", id.Hex(), status, c.Duration("timeout"), id.Hex())
		}
	}
}

// aboutJob names the job in err unless the node's message already does.
func aboutJob(err error, id common.Hash) error {
	if strings.Contains(strings.ToLower(err.Error()), strings.ToLower(id.Hex())) {
		return err
	}
	return about(err, "job %s", id.Hex())
}

func expiredError(job *node.RPCJob) error {
	if job.Kind == "train" && job.StepsDone > 0 {
		return fmt.Errorf("job %s expired after block %d at %d of %d steps; the rest of its fee was refunded, and \"quern job result --out DIR\" writes the model at its last checkpoint", job.ID.Hex(), job.Expiry, job.StepsDone, job.Steps)
	}
	return fmt.Errorf("job %s expired after block %d without a result; its fee less the program's byte fee was refunded", job.ID.Hex(), job.Expiry)
}

func jobStatus(c *cli.Context) error {
	id, nc, err := argAndDial(c, "JOB-ID", parseHash)
	if err != nil {
		return err
	}
	defer nc.Close()
	job, err := nc.Job(c.Context, id)
	if err != nil {
		return aboutJob(err, id)
	}
	if c.Bool(jsonFlag.Name) {
		return printJSON(c, job)
	}
	w := c.App.Writer
	fmt.Fprintf(w, "id:         %s\n", job.ID.Hex())
	fmt.Fprintf(w, "status:     %s\n", job.Status)
	fmt.Fprintf(w, "owner:      %s\n", job.Owner.Hex())
	fmt.Fprintf(w, "fee:        %s QRN\n", weiString(job.Fee))
	fmt.Fprintf(w, "work:       %d MACs\n", job.Work)
	if job.Kind == "train" {
		fmt.Fprintf(w, "kind:       train\n")
		fmt.Fprintf(w, "progress:   %s\n", stepsString(job.StepsDone, job.Steps))
		if job.Checkpoint != nil {
			fmt.Fprintf(w, "checkpoint: %s\n", job.Checkpoint.Hex())
		}
		if job.Paid != "" && job.Status != "done" {
			fmt.Fprintf(w, "paid:       %s QRN to miners so far\n", weiString(job.Paid))
		}
	}
	if job.Rows != 0 || job.Cols != 0 {
		fmt.Fprintf(w, "result:     %d×%d int32\n", job.Rows, job.Cols)
	}
	fmt.Fprintf(w, "submitted:  block %d\n", job.Submitted)
	fmt.Fprintf(w, "expiry:     block %d\n", job.Expiry)
	if job.Status == "done" {
		fmt.Fprintf(w, "done block: %d\n", job.DoneBlock)
		fmt.Fprintf(w, "miner:      %s\n", job.Miner.Hex())
		if job.MinerFee != "" {
			fmt.Fprintf(w, "miner fee:  %s QRN\n", weiString(job.MinerFee))
		}
		if job.Burned != "" {
			fmt.Fprintf(w, "burned:     %s QRN\n", weiString(job.Burned))
		}
	}
	return nil
}

// weiString formats a wei string from the node as QRN, or shows it raw if
// the node sent something unexpected.
func weiString(s string) string {
	v, err := parseWei(s)
	if err != nil {
		return fmt.Sprintf("%q (wei?)", s)
	}
	return formatQRN(v)
}

func jobResult(c *cli.Context) error {
	id, nc, err := argAndDial(c, "JOB-ID", parseHash)
	if err != nil {
		return err
	}
	out := c.String(outFlag.Name)
	defer nc.Close()
	if c.Bool(waitFlag.Name) {
		if _, err := waitJob(c, nc, id); err != nil {
			return err
		}
	}
	res, err := nc.JobResult(c.Context, id)
	if err != nil {
		return resultError(c, nc, id, err)
	}
	written := jobResultWritten{JobID: id, Kind: "matmul", Out: out, Block: res.Block}
	if tm := res.Train; tm != nil {
		if err := writeTrainedModel(c, id, res, out); err != nil {
			return err
		}
		written.Kind, written.Layers, written.Steps, written.TotalSteps, written.Checkpoint = "train", tm.Layers, tm.Steps, tm.TotalSteps, &tm.Checkpoint
		if c.Bool(jsonFlag.Name) {
			return printJSON(c, written)
		}
		fmt.Fprintf(c.App.Writer, "wrote %s: model %s after %s\n", out, layersString(tm.Layers), stepsString(tm.Steps, tm.TotalSteps))
		return nil
	}
	m, err := vm.DecodeResult(res.Rows, res.Cols, res.Data)
	if err != nil {
		return fmt.Errorf("job %s: bad result from node: %v", id.Hex(), err)
	}
	if err := writeInt32Matrix(out, m.Rows, m.Cols, m.Data); err != nil {
		return about(err, "writing the result")
	}
	written.Rows, written.Cols = res.Rows, res.Cols
	if c.Bool(jsonFlag.Name) {
		return printJSON(c, written)
	}
	fmt.Fprintf(c.App.Writer, "wrote %s: %d×%d int32 from block %d\n", out, m.Rows, m.Cols, res.Block)
	return nil
}

// jobResultWritten is what `quern job result --json` prints: the file or
// directory written and what is in it.
type jobResultWritten struct {
	JobID common.Hash `json:"jobId"`
	Kind  string      `json:"kind"` // "matmul" | "train"
	Out   string      `json:"out"`
	Block uint64      `json:"block"` // where it was done (0: a training job that expired)
	// matmul: the product's shape
	Rows uint32 `json:"rows,omitempty"`
	Cols uint32 `json:"cols,omitempty"`
	// train: the model's widths, the steps it was trained for and the
	// checkpoint (state root) it was read at
	Layers     []uint32     `json:"layers,omitempty"`
	Steps      uint32       `json:"steps,omitempty"`
	TotalSteps uint32       `json:"totalSteps,omitempty"`
	Checkpoint *common.Hash `json:"checkpoint,omitempty"`
}

// resultError explains why the node has no result for id, by asking it for
// the job's status.
func resultError(c *cli.Context, nc *nodeClient, id common.Hash, err error) error {
	if !isNodeError(err) {
		return err
	}
	job, jerr := nc.Job(c.Context, id)
	if jerr != nil {
		return aboutJob(err, id)
	}
	switch job.Status {
	case "submitted":
		return fmt.Errorf("job %s is submitted: its tx waits in the txpool, not yet in a block; try again after it is mined, or use --wait", id.Hex())
	case "pending":
		if job.Kind == "train" {
			return fmt.Errorf("job %s is pending at %s (no model yet); try again after it is done, or use --wait", id.Hex(), stepsString(job.StepsDone, job.Steps))
		}
		return fmt.Errorf("job %s is pending (no result yet); try again after it is mined, or use --wait", id.Hex())
	case "expired":
		return expiredError(job)
	case "done":
		return fmt.Errorf("job %s was done in block %d but the node has no result data (%v); results are pruned after the retention window: ask an archive node", id.Hex(), job.DoneBlock, err)
	}
	return fmt.Errorf("job %s is %s: %v", id.Hex(), job.Status, err)
}
