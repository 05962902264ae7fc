package chain

import (
	"bytes"
	"crypto/ecdsa"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"
	"github.com/quern-chain/quern/chain/types"
)

// Genesis is the JSON description of a chain's first block: the consensus
// parameters, the genesis time (unix ms) and the initial balances (wei).
type Genesis struct {
	Config    types.Params                    `json:"config"`
	Timestamp uint64                          `json:"timestamp"`
	Alloc     map[common.Address]*uint256.Int `json:"alloc"`
}

//go:embed dev.json
var devGenesisJSON []byte

// DevKeyHex is the private key of the devnet's funded account:
// Keccak256("quern devnet insecure dev key"). It is public, so it is
// INSECURE: never hold value with it outside a local devnet.
const DevKeyHex = "7afa4d12318c98ffcde8f8392a6770f6378186e682a72b75b4a598e0360f809d"

// DevKey returns the devnet's well-known (INSECURE) funded key.
func DevKey() *ecdsa.PrivateKey {
	k, err := crypto.HexToECDSA(DevKeyHex)
	if err != nil {
		panic("chain: bad dev key: " + err.Error())
	}
	return k
}

// DevAddress is the address of DevKey, funded with 1,000,000 QRN in DevGenesis.
func DevAddress() common.Address { return crypto.PubkeyToAddress(DevKey().PublicKey) }

// DevGenesis returns the embedded devnet genesis (chain id 7357, 2 s blocks).
func DevGenesis() *Genesis {
	g, err := decodeGenesis(devGenesisJSON)
	if err != nil {
		panic("chain: embedded dev genesis: " + err.Error())
	}
	return g
}

// LoadGenesis reads and validates a genesis JSON file.
func LoadGenesis(path string) (*Genesis, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	g, err := decodeGenesis(data)
	if err != nil {
		return nil, fmt.Errorf("genesis %s: %w", path, err)
	}
	return g, nil
}

func decodeGenesis(data []byte) (*Genesis, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // a misspelt parameter must not silently default to zero
	var g Genesis
	if err := dec.Decode(&g); err != nil {
		return nil, fmt.Errorf("decode JSON: %w", err)
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return &g, nil
}

// Validate checks the parameters and the allocation.
func (g *Genesis) Validate() error {
	if err := g.Config.Validate(); err != nil {
		return err
	}
	if g.Timestamp == 0 {
		return errors.New("genesis: timestamp (unix ms) must be set")
	}
	for a, v := range g.Alloc {
		if v == nil {
			return fmt.Errorf("genesis: alloc %s has no balance", a)
		}
	}
	return nil
}

// ParamsHash is Keccak256(rlp(params)). The genesis header carries it as its
// ParentHash, so the genesis hash commits to the consensus parameters: two
// nodes with different params can never share a genesis.
func ParamsHash(p *types.Params) common.Hash {
	return types.Keccak(mustRLP(p))
}

// ToBlock builds the genesis block and its state. The header is number 0,
// ParentHash = ParamsHash(config), Time = Timestamp, Difficulty =
// InitialDifficulty, empty tx and result roots, zero coinbase and seal, and
// the state root of the allocation.
func (g *Genesis) ToBlock() (*types.Block, *State) {
	st := NewState()
	for a, v := range g.Alloc {
		st.credit(a, v)
	}
	st.freeze()
	h := &types.Header{
		ParentHash: ParamsHash(&g.Config),
		Number:     0,
		Time:       g.Timestamp,
		Difficulty: g.Config.InitialDifficulty,
		StateRoot:  st.Root(),
		TxRoot:     types.TxRoot(nil),
		ResultRoot: types.ResultRoot(nil),
	}
	return &types.Block{Header: h}, st
}
