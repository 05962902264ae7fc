package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/quern-chain/quern/node"
)

var chainCommand = &cli.Command{
	Name:  "chain",
	Usage: "inspect the chain through a node",
	Subcommands: []*cli.Command{
		{
			Name:      "head",
			Usage:     "print the height and hash of the node's head block",
			ArgsUsage: " ",
			Flags:     []cli.Flag{rpcFlag, jsonFlag},
			Action:    chainHead,
		},
		{
			Name:      "info",
			Usage:     "print the node's network, chain id, head, peers and sync state",
			ArgsUsage: " ",
			Flags:     []cli.Flag{rpcFlag, jsonFlag},
			Action:    chainInfo,
		},
		chainBlockCommand,
		chainProofCommand,
	},
}

func chainHead(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	nc, err := dial(c)
	if err != nil {
		return err
	}
	defer nc.Close()
	b, err := nc.HeadBlock(c.Context)
	if err != nil {
		return about(err, "head block")
	}
	if c.Bool(jsonFlag.Name) {
		return printJSON(c, map[string]any{"height": b.Number, "hash": b.Hash})
	}
	fmt.Fprintf(c.App.Writer, "height %d hash %s\n", b.Number, b.Hash.Hex())
	return nil
}

func chainInfo(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	nc, err := dial(c)
	if err != nil {
		return err
	}
	defer nc.Close()
	info, err := node.Quern.NodeInfo.Call(c.Context, nc)
	if err != nil {
		return about(err, "node info")
	}
	state, err := node.Quern.Syncing.Call(c.Context, nc)
	if err != nil {
		return about(err, "sync state")
	}
	sync := state.Progress
	if c.Bool(jsonFlag.Name) {
		return printJSON(c, struct {
			node.RPCNodeInfo
			Syncing *node.RPCSyncing `json:"syncing"`
		}{info, sync})
	}
	w := c.App.Writer
	fmt.Fprintf(w, "network:  %s\n", info.Network)
	fmt.Fprintf(w, "chain id: %d\n", info.ChainID)
	fmt.Fprintf(w, "genesis:  %s\n", info.Genesis.Hex())
	fmt.Fprintf(w, "head:     %d\n", info.Head)
	fmt.Fprintf(w, "peers:    %d\n", info.Peers)
	fmt.Fprintf(w, "mining:   %t\n", info.Mining)
	if info.Backend != "" {
		fmt.Fprintf(w, "backend:  %s\n", info.Backend)
	}
	if sync != nil {
		fmt.Fprintf(w, "syncing:  block %d of %d\n", sync.Current, sync.Highest)
	} else {
		fmt.Fprintf(w, "syncing:  no\n")
	}
	fmt.Fprintf(w, "node id:  %s\n", info.ID)
	for _, a := range info.Addrs {
		fmt.Fprintf(w, "address:  %s\n", a)
	}
	return nil
}
