package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/urfave/cli/v2"

	"github.com/quern-chain/quern/chain/types"
	"github.com/quern-chain/quern/node"
)

var (
	lightKDFFlag = &cli.BoolFlag{
		Name:  "lightkdf",
		Usage: "encrypt the key with cheap scrypt parameters (tests and devnets only: easy to brute-force)",
	}
	toFlag = &cli.StringFlag{
		Name:     "to",
		Usage:    "receiving `ADDRESS`",
		Required: true,
	}
	valueFlag = &cli.StringFlag{
		Name:     "value",
		Usage:    "`AMOUNT` of QRN to send (e.g. 1.5; up to 18 decimals)",
		Required: true,
	}
	txFeeFlag = &cli.StringFlag{
		Name:  "fee",
		Usage: "transfer fee in QRN (`AMOUNT`), paid to the miner",
		Value: "0.001",
	}
	txTimeoutFlag = &cli.DurationFlag{
		Name:  "timeout",
		Usage: "how long --wait waits (`DURATION`: 90s, 2m, 1h)",
		Value: 2 * time.Minute,
	}
)

var walletCommand = &cli.Command{
	Name:  "wallet",
	Usage: "create keys, check balances, send QRN",
	Subcommands: []*cli.Command{
		{
			Name:      "new",
			Usage:     "create an encrypted key in a keystore and print its address",
			ArgsUsage: " ",
			Flags:     []cli.Flag{keystoreFlag, passwordFileFlag, lightKDFFlag},
			Action:    walletNew,
		},
		{
			Name:      "balance",
			Usage:     "print an account's balance in QRN",
			ArgsUsage: "ADDRESS",
			Flags:     []cli.Flag{rpcFlag, jsonFlag},
			Action:    walletBalance,
		},
		{
			Name:      "send",
			Usage:     "send QRN from a keystore account",
			ArgsUsage: " ",
			Flags:     []cli.Flag{rpcFlag, keystoreFlag, fromFlag, toFlag, valueFlag, txFeeFlag, passwordFileFlag, waitFlag, txTimeoutFlag, pollFlag},
			Action:    walletSend,
		},
		{
			Name:      "rewards",
			Usage:     "print what an account has earned as a miner",
			ArgsUsage: "ADDRESS",
			Flags:     []cli.Flag{rpcFlag, jsonFlag},
			Action:    walletRewards,
		},
		walletListCommand,
		walletImportCommand,
		walletExportCommand,
	},
}

func walletNew(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	dir := c.String(keystoreFlag.Name)
	n, p := keystore.StandardScryptN, keystore.StandardScryptP
	if c.Bool(lightKDFFlag.Name) {
		n, p = keystore.LightScryptN, keystore.LightScryptP
	}
	pw, err := password(c, "Password for the new key: ", true)
	if err != nil {
		return err
	}
	acct, err := keystore.NewKeyStore(dir, n, p).NewAccount(pw)
	if err != nil {
		return fmt.Errorf("creating a key in %s: %v", dir, err)
	}
	fmt.Fprintln(c.App.Writer, acct.Address.Hex())
	fmt.Fprintf(c.App.ErrWriter, "key saved to %s (keep its password: without it the key cannot be used)\n", acct.URL.Path)
	return nil
}

func walletBalance(c *cli.Context) error {
	addr, nc, err := argAndDial(c, "ADDRESS", parseAddress)
	if err != nil {
		return err
	}
	defer nc.Close()
	bal, err := nc.Balance(c.Context, addr)
	if err != nil {
		return about(err, "balance of %s", addr.Hex())
	}
	if c.Bool(jsonFlag.Name) {
		return printJSON(c, map[string]string{"address": addr.Hex(), "balance": formatQRN(bal), "wei": bal.Dec()})
	}
	fmt.Fprintf(c.App.Writer, "%s QRN\n", formatQRN(bal))
	return nil
}

func walletRewards(c *cli.Context) error {
	addr, nc, err := argAndDial(c, "ADDRESS", parseAddress)
	if err != nil {
		return err
	}
	defer nc.Close()
	r, err := node.Quern.MinerRewards.Call(c.Context, nc, addr)
	if err != nil {
		return about(err, "rewards of %s", addr.Hex())
	}
	total, err := parseWei(r.Total)
	if err != nil {
		return err
	}
	if c.Bool(jsonFlag.Name) {
		return printJSON(c, struct {
			Address common.Address `json:"address"`
			Total   string         `json:"total"`
			Wei     string         `json:"wei"`
			Blocks  uint64         `json:"blocks"`
		}{addr, formatQRN(total), total.Dec(), r.Blocks})
	}
	fmt.Fprintf(c.App.Writer, "total:  %s QRN\nblocks: %d\n", formatQRN(total), r.Blocks)
	return nil
}

func walletSend(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	from, err := parseAddress(c.String(fromFlag.Name))
	if err != nil {
		return about(err, "--from")
	}
	to, err := parseAddress(c.String(toFlag.Name))
	if err != nil {
		return about(err, "--to")
	}
	value, err := parseQRN(c.String(valueFlag.Name))
	if err != nil {
		return about(err, "--value")
	}
	fee, err := parseQRN(c.String(txFeeFlag.Name))
	if err != nil {
		return about(err, "--fee")
	}
	key, err := findKey(c, from)
	if err != nil {
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
	tx := &types.Tx{ChainID: info.ChainID, Kind: types.TxTransfer, To: to, Value: value, Fee: fee}
	hash, err := sendTx(c, nc, key, from, tx)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer, hash.Hex())
	if !c.Bool(waitFlag.Name) {
		return nil
	}
	if err := waitIncluded(c, nc, from, tx.Nonce); err != nil {
		return about(err, "tx %s", hash.Hex())
	}
	// The nonce is used: by this tx, or by another that replaced it.
	st, err := nc.TxStatus(c.Context, hash)
	switch {
	case err == nil && st.Status == "mined" && st.Block != nil:
		fmt.Fprintf(c.App.ErrWriter, "included in block %d (%s)\n", *st.Block, st.BlockHash.Hex())
	case err == nil && st.Status == "dropped":
		return fmt.Errorf("tx %s was not included: the node dropped it (%s), and nonce %d went to another tx", hash.Hex(), st.Reason, tx.Nonce)
	default: // a node without the status method, or a reorg in between
		fmt.Fprintln(c.App.ErrWriter, "included")
	}
	return nil
}

// checkBalance makes sure from can pay tx's value and fee before we sign.
func checkBalance(c *cli.Context, nc *nodeClient, from common.Address, tx *types.Tx) error {
	bal, err := nc.Balance(c.Context, from)
	if err != nil {
		return about(err, "balance of %s", from.Hex())
	}
	if need := tx.Cost(); bal.Lt(need) {
		return fmt.Errorf("insufficient balance: have %s QRN, need %s QRN", formatQRN(bal), formatQRN(need))
	}
	return nil
}

// sendTx signs tx and hands it to the node; it returns the tx hash.
// sendTx checks that from can pay for tx, unlocks its key, takes the next
// pending nonce, signs and sends: the end of every command that transacts.
func sendTx(c *cli.Context, nc *nodeClient, key *signer, from common.Address, tx *types.Tx) (common.Hash, error) {
	if err := checkBalance(c, nc, from, tx); err != nil {
		return common.Hash{}, err
	}
	if err := key.unlock(c); err != nil {
		return common.Hash{}, err
	}
	var err error
	if tx.Nonce, err = nc.Nonce(c.Context, from, "pending"); err != nil {
		return common.Hash{}, about(err, "nonce of %s", from.Hex())
	}
	raw, err := key.signTx(tx)
	if err != nil {
		return common.Hash{}, err
	}
	hash, err := node.Quern.SendRawTransaction.Call(c.Context, nc, raw)
	if err != nil {
		var ne *nodeError
		if errors.As(err, &ne) {
			return common.Hash{}, fmt.Errorf("node rejected the transaction: %s", ne.msg)
		}
		return common.Hash{}, err
	}
	if want := tx.Hash(); hash != want {
		fmt.Fprintf(c.App.ErrWriter, "warning: node named the transaction %s, expected %s\n", hash.Hex(), want.Hex())
	}
	return hash, nil
}

// waitIncluded polls until from's mined nonce passes nonce.
func waitIncluded(c *cli.Context, nc *nodeClient, from common.Address, nonce uint64) error {
	ctx, cancel := waitCtx(c)
	defer cancel()
	tick := time.NewTicker(c.Duration(pollFlag.Name))
	defer tick.Stop()
	for {
		n, err := nc.Nonce(ctx, from, "latest")
		if err == nil && n > nonce {
			return nil
		}
		if err != nil && !isNodeError(err) && ctx.Err() == nil {
			return err
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			if c.Context.Err() != nil {
				return errors.New("interrupted while waiting")
			}
			return fmt.Errorf("not included after %s (it may still be; check with \"quern wallet balance %s\")", c.Duration("timeout"), from.Hex())
		}
	}
}

func isNodeError(err error) bool {
	var ne *nodeError
	return errors.As(err, &ne)
}
