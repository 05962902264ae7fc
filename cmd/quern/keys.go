package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/urfave/cli/v2"

	"github.com/quern-chain/quern/chain/types"
)

// parseAddress reads a 20-byte address as 40 hex digits with an optional 0x.
// A mixed-case address must carry a valid EIP-55 checksum, which catches
// most typos; an all-lower or all-upper one is taken as is.
func parseAddress(s string) (common.Address, error) {
	h := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if len(h) != 40 {
		return common.Address{}, fmt.Errorf("bad address %q: want 40 hex digits", s)
	}
	for _, c := range h {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return common.Address{}, fmt.Errorf("bad address %q: want 40 hex digits", s)
		}
	}
	addr := common.HexToAddress(h)
	if h != strings.ToLower(h) && h != strings.ToUpper(h) && addr.Hex()[2:] != h {
		return common.Address{}, fmt.Errorf("bad address %q: checksum mismatch (mistyped? the checksummed form of these digits is %s)", s, addr.Hex())
	}
	return addr, nil
}

// parseHash reads a 32-byte hash (a job id or tx hash) as 64 hex digits.
func parseHash(s string) (common.Hash, error) {
	h := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if len(h) != 64 {
		return common.Hash{}, fmt.Errorf("bad id %q: want 0x and 64 hex digits", s)
	}
	for _, c := range h {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return common.Hash{}, fmt.Errorf("bad id %q: want 0x and 64 hex digits", s)
		}
	}
	return common.HexToHash(h), nil
}

// readPasswordFile returns the first line of path, without its line ending;
// an empty file holds the empty password.
func readPasswordFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSuffix(line, "\r"), nil
}

// password gets the keystore password: from --password-file when given,
// otherwise from the terminal (without echo), or a line of stdin when stdin
// is not a terminal. confirm asks twice on a terminal (for a new key).
func password(c *cli.Context, prompt string, confirm bool) (string, error) {
	if path := c.String(passwordFileFlag.Name); path != "" {
		return readPasswordFile(path)
	}
	in := c.App.Reader
	if f, ok := in.(*os.File); ok && isTerminal(int(f.Fd())) {
		pw, err := promptPassword(c.Context, c.App.ErrWriter, f, prompt)
		if err != nil || !confirm {
			return pw, err
		}
		again, err := promptPassword(c.Context, c.App.ErrWriter, f, "Repeat password: ")
		if err != nil {
			return "", err
		}
		if again != pw {
			return "", errors.New("passwords do not match")
		}
		return pw, nil
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", errors.New("no password: pass --password-file FILE or run in a terminal")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// promptPassword reads a line from the terminal with echo off; Ctrl-C
// cancels ctx, and we give up waiting (the terminal is restored either way).
func promptPassword(ctx context.Context, w io.Writer, tty *os.File, prompt string) (string, error) {
	if ctx.Err() != nil {
		return "", errors.New("interrupted")
	}
	fmt.Fprint(w, prompt)
	defer fmt.Fprintln(w)
	type answer struct {
		pw  string
		err error
	}
	ch := make(chan answer, 1)
	restore, err := disableEcho(int(tty.Fd()))
	if err != nil {
		return "", fmt.Errorf("terminal: %w", err)
	}
	defer restore()
	go func() {
		pw, err := readLine(tty)
		ch <- answer{pw, err}
	}()
	select {
	case a := <-ch:
		if ctx.Err() != nil { // Ctrl-C also ends the line: do not take it as an answer
			return "", errors.New("interrupted")
		}
		return a.pw, a.err
	case <-ctx.Done():
		return "", errors.New("interrupted")
	}
}

// readLine reads bytes from f up to a newline, unbuffered so that nothing
// after the line is swallowed.
func readLine(f *os.File) (string, error) {
	var line []byte
	var b [1]byte
	for {
		n, err := f.Read(b[:])
		if n == 1 {
			if b[0] == '\n' {
				return strings.TrimSuffix(string(line), "\r"), nil
			}
			line = append(line, b[0])
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) && len(line) > 0 {
				return string(line), nil
			}
			return "", fmt.Errorf("reading password: %w", err)
		}
	}
}

// openKeystore opens an existing keystore directory.
func openKeystore(dir string) (*keystore.KeyStore, error) {
	if dir == "" {
		return nil, errors.New("no keystore: pass --keystore DIR")
	}
	st, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("keystore %s does not exist (create a key with \"quern wallet new --keystore %s\")", dir, dir)
		}
		return nil, fmt.Errorf("keystore: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("keystore %s is not a directory", dir)
	}
	return keystore.NewKeyStore(dir, keystore.StandardScryptN, keystore.StandardScryptP), nil
}

// signer signs transactions for one keystore account.
type signer struct {
	ks   *keystore.KeyStore
	acct accounts.Account
}

// findKey looks from up in the command's --keystore.
func findKey(c *cli.Context, from common.Address) (*signer, error) {
	dir := c.String(keystoreFlag.Name)
	ks, err := openKeystore(dir)
	if err != nil {
		return nil, err
	}
	acct, err := ks.Find(accounts.Account{Address: from})
	if err != nil {
		if errors.Is(err, keystore.ErrNoMatch) {
			return nil, fmt.Errorf("no key for %s in keystore %s", from.Hex(), dir)
		}
		return nil, fmt.Errorf("keystore %s: %v", dir, err)
	}
	return &signer{ks: ks, acct: acct}, nil
}

// unlock gets the password and checks it now, before anything is sent.
func (s *signer) unlock(c *cli.Context) error {
	pw, err := password(c, fmt.Sprintf("Password for %s: ", s.acct.Address.Hex()), false)
	if err != nil {
		return err
	}
	// Unlock decrypts the key once (scrypt is slow by design) and keeps it
	// in memory for signHash.
	if err := s.ks.Unlock(s.acct, pw); err != nil {
		if errors.Is(err, keystore.ErrDecrypt) {
			return fmt.Errorf("wrong password for %s", s.acct.Address.Hex())
		}
		return fmt.Errorf("unlocking %s: %v", s.acct.Address.Hex(), err)
	}
	return nil
}

func (s *signer) signHash(h common.Hash) ([]byte, error) {
	sig, err := s.ks.SignHash(s.acct, h[:])
	if err != nil {
		return nil, fmt.Errorf("signing with %s: %v", s.acct.Address.Hex(), err)
	}
	return sig, nil
}

// signTx fills tx.Sig and returns the RLP encoding the node accepts.
func (s *signer) signTx(tx *types.Tx) ([]byte, error) {
	sig, err := s.signHash(tx.SigningHash())
	if err != nil {
		return nil, err
	}
	tx.Sig = sig
	if sender, err := tx.Sender(); err != nil || sender != s.acct.Address {
		return nil, fmt.Errorf("signature check failed for %s", s.acct.Address.Hex())
	}
	return rlp.EncodeToBytes(tx)
}
