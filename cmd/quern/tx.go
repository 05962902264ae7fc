package main

import (
	"context"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/urfave/cli/v2"

	"github.com/quern-chain/quern/node"
)

var txCommand = &cli.Command{
	Name:  "tx",
	Usage: "follow transactions through a node",
	Subcommands: []*cli.Command{
		{
			Name: "status",
			Usage: "print whether a transaction is pending, queued, mined, dropped or unknown to the node " +
				"(the word on stdout; block or drop reason on stderr)",
			ArgsUsage: "HASH",
			Flags:     []cli.Flag{rpcFlag, jsonFlag},
			Action:    showTxStatus,
		},
	},
}

func showTxStatus(c *cli.Context) error {
	h, nc, err := argAndDial(c, "HASH", parseHash)
	if err != nil {
		return err
	}
	defer nc.Close()
	st, err := nc.TxStatus(c.Context, h)
	if err != nil {
		return about(err, "status of tx %s", h.Hex())
	}
	if c.Bool(jsonFlag.Name) {
		return printJSON(c, st)
	}
	fmt.Fprintln(c.App.Writer, st.Status)
	errw := c.App.ErrWriter
	switch st.Status {
	case node.TxStatusMined:
		if st.Block != nil && st.BlockHash != nil {
			fmt.Fprintf(errw, "in block %d (%s)\n", *st.Block, st.BlockHash.Hex())
		}
	case node.TxStatusQueued:
		fmt.Fprintln(errw, "waiting on an earlier nonce (or on funds); it is dropped if that does not come within the pool's lifetime")
	case node.TxStatusDropped:
		fmt.Fprintf(errw, "dropped: %s\n", st.Reason)
	case node.TxStatusUnknown:
		fmt.Fprintln(errw, "the node has not seen it, or dropped it too long ago to remember")
	}
	return nil
}

// TxStatus asks where a transaction stands (quern_getTransactionStatus).
func (nc *nodeClient) TxStatus(ctx context.Context, h common.Hash) (*node.RPCTxStatus, error) {
	st, err := node.Quern.GetTransactionStatus.Call(ctx, nc, h)
	if err == nil && st == nil {
		return nil, fmt.Errorf("node at %s answered no status", nc.url)
	}
	return st, err
}
