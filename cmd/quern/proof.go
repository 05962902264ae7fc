package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/urfave/cli/v2"

	"github.com/quern-chain/quern/chain"
	"github.com/quern-chain/quern/node"
)

var chainProofCommand = &cli.Command{
	Name:  "proof",
	Usage: "fetch a Merkle proof of an account (and jobs) and verify it against a block header",
	Description: `Asks the node for quern_getProof, rebuilds the block's header from its
fields, checks that it hashes to the block hash and that the proof's nodes
lead from the header's state root to the values claimed, and only then
prints them. Pass --trust with a block hash you trust (from another node, a
block explorer, a friend) to check the header against it; without it the
node's own header is used, which proves the node's answer consistent with
its chain, not that the chain is the network's.`,
	ArgsUsage: "ADDRESS",
	Flags: []cli.Flag{
		rpcFlag, jsonFlag,
		&cli.StringFlag{Name: "block", Value: "latest", Usage: "block `NUMBER` or latest whose state to prove"},
		&cli.StringFlag{Name: "trust", Usage: "block `HASH` you trust: the proof must be of that block"},
		&cli.StringSliceFlag{Name: "job", Usage: "also prove job `ID`'s record (repeatable)"},
	},
	Action: chainProof,
}

func chainProof(c *cli.Context) error {
	arg, err := oneArg(c, "ADDRESS")
	if err != nil {
		return err
	}
	addr, err := parseAddress(arg)
	if err != nil {
		return err
	}
	jobs := []common.Hash{}
	for _, s := range c.StringSlice("job") {
		id, err := parseHash(s)
		if err != nil {
			return fmt.Errorf("--job %s: %w", s, err)
		}
		jobs = append(jobs, id)
	}
	var trust *common.Hash
	if s := c.String("trust"); s != "" {
		h, err := parseHash(s)
		if err != nil {
			return fmt.Errorf("--trust %s: %w", s, err)
		}
		trust = &h
	}
	nc, err := dial(c)
	if err != nil {
		return err
	}
	defer nc.Close()
	at := node.BlockNumber{Latest: true}
	switch s := c.String("block"); {
	case trust != nil:
		b, err := node.Quern.GetBlockByHash.Call(c.Context, nc, *trust)
		if err != nil {
			return about(err, "block %s", trust.Hex())
		}
		if b == nil {
			return fmt.Errorf("node at %s has no block %s (--trust)", nc.url, trust.Hex())
		}
		at = node.BlockNumber{Number: b.Number}
	case !strings.EqualFold(s, "latest"):
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return fmt.Errorf("--block %q: want a number or latest", s)
		}
		at = node.BlockNumber{Number: n}
	}
	p, err := node.Quern.GetProof.Call(c.Context, nc, addr, &jobs, &at)
	if err != nil {
		return about(err, "proof of %s", addr.Hex())
	}
	if p == nil {
		return errors.New("the node answered no proof")
	}
	hd, err := node.Quern.GetBlockByHash.Call(c.Context, nc, p.BlockHash)
	if err != nil {
		return about(err, "header of block %s", p.BlockHash.Hex())
	}
	if hd == nil {
		return fmt.Errorf("the node has no header for the block %s its proof names", p.BlockHash.Hex())
	}
	if got := hd.Header().Hash(); got != p.BlockHash {
		return fmt.Errorf("NOT VERIFIED: the node's header fields of block %d hash to %s, not to %s", hd.Number, got.Hex(), p.BlockHash.Hex())
	}
	if trust != nil && p.BlockHash != *trust {
		return fmt.Errorf("NOT VERIFIED: the node proved block %s, not the trusted %s (reorganised?)", p.BlockHash.Hex(), trust.Hex())
	}
	sp, err := p.StateProof()
	if err != nil {
		return fmt.Errorf("NOT VERIFIED: %w", err)
	}
	if err := chain.VerifyProof(hd.StateRoot, sp); err != nil {
		return fmt.Errorf("NOT VERIFIED against the state root %s of block %d: %w", hd.StateRoot.Hex(), hd.Number, err)
	}
	if c.Bool(jsonFlag.Name) {
		return printJSON(c, struct {
			Verified bool `json:"verified"`
			Trusted  bool `json:"trustedHeader"`
			*node.RPCProof
		}{true, trust != nil, p})
	}
	w := c.App.Writer
	how := "the node's own header (pass --trust HASH to check it against a block hash you trust)"
	if trust != nil {
		how = "the block hash you trust"
	}
	fmt.Fprintf(w, "verified:   against the state root %s of block %d %s, via %s\n", hd.StateRoot.Hex(), hd.Number, p.BlockHash.Hex(), how)
	fmt.Fprintf(w, "address:    %s\n", addr.Hex())
	fmt.Fprintf(w, "balance:    %s QRN (%s wei)\n", formatQRN(sp.Balance), sp.Balance.Dec())
	fmt.Fprintf(w, "nonce:      %d\n", sp.Nonce)
	fmt.Fprintf(w, "reward:     %s QRN earned as a miner\n", formatQRN(sp.Reward))
	for _, j := range sp.Jobs {
		if j.Job == nil {
			fmt.Fprintf(w, "job %s: proved absent\n", j.ID.Hex())
			continue
		}
		fmt.Fprintf(w, "job %s: %s, owner %s, fee %s QRN, result %s\n", j.ID.Hex(), node.JobStatus(j.Job.Status), j.Job.Owner.Hex(), formatQRN(j.Job.Fee), j.Job.ResultHash.Hex())
	}
	return nil
}
