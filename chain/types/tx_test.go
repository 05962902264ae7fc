package types

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/holiman/uint256"
)

func testKey(t testing.TB, b byte) *ecdsa.PrivateKey {
	t.Helper()
	k, err := crypto.ToECDSA(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func signedTestTx(t testing.TB, key *ecdsa.PrivateKey) *Tx {
	t.Helper()
	tx := &Tx{ChainID: 7357, Nonce: 3, To: crypto.PubkeyToAddress(testKey(t, 9).PublicKey), Value: uint256.NewInt(5), Fee: uint256.NewInt(7)}
	if err := tx.Sign(key); err != nil {
		t.Fatal(err)
	}
	return tx
}

// The cached sender is keyed on the signing hash and the signature: a tx
// changed after Sender is recovered afresh, never answered from the cache.
func TestSenderCache(t *testing.T) {
	k1, k2 := testKey(t, 1), testKey(t, 2)
	a1, a2 := crypto.PubkeyToAddress(k1.PublicKey), crypto.PubkeyToAddress(k2.PublicKey)
	tx := signedTestTx(t, k1)
	before, err := rlp.EncodeToBytes(tx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if from, err := tx.Sender(); err != nil || from != a1 {
			t.Fatalf("call %d: sender %s, %v; want %s", i, from, err, a1)
		}
	}
	after, err := rlp.EncodeToBytes(tx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("the cache changed the tx's RLP encoding")
	}
	var dec Tx
	if err := rlp.DecodeBytes(after, &dec); err != nil {
		t.Fatal(err)
	}
	if from, err := dec.Sender(); err != nil || from != a1 || dec.Hash() != tx.Hash() {
		t.Fatalf("decoded tx: sender %s, %v, hash %s; want %s, %s", from, err, dec.Hash(), a1, tx.Hash())
	}

	// Re-signed by another key: the new signer.
	if err := tx.Sign(k2); err != nil {
		t.Fatal(err)
	}
	if from, err := tx.Sender(); err != nil || from != a2 {
		t.Fatalf("re-signed: sender %s, %v; want %s", from, err, a2)
	}
	// A field changed under the same signature: whoever the signature now
	// recovers to, not the cached signer.
	tx.Value = uint256.NewInt(6)
	if from, err := tx.Sender(); err == nil && from == a2 {
		t.Fatal("a changed value kept the cached sender")
	}
	// A signature broken in place: an error, not the cached signer.
	tx = signedTestTx(t, k1)
	if _, err := tx.Sender(); err != nil {
		t.Fatal(err)
	}
	tx.Sig[64] = 7
	if _, err := tx.Sender(); !errors.Is(err, ErrInvalidSig) {
		t.Fatalf("broken recovery id: %v, want %v", err, ErrInvalidSig)
	}
	tx.Sig = tx.Sig[:64]
	if _, err := tx.Sender(); !errors.Is(err, ErrInvalidSig) {
		t.Fatalf("short signature: %v, want %v", err, ErrInvalidSig)
	}
}

// BenchmarkSender compares the first recovery of a sender with a cached one.
func BenchmarkSender(b *testing.B) {
	key := testKey(b, 1)
	tx := signedTestTx(b, key)
	enc, err := rlp.EncodeToBytes(tx)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("recover", func(b *testing.B) {
		for b.Loop() {
			var fresh Tx
			if err := rlp.DecodeBytes(enc, &fresh); err != nil {
				b.Fatal(err)
			}
			if _, err := fresh.Sender(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		var warm Tx
		if err := rlp.DecodeBytes(enc, &warm); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := warm.Sender(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// A sender recovered once is known to every later copy of the same signed
// tx (a pool tx met again in a block decoded from the wire), and only to a
// copy with the very same signature.
func TestRecoveredSendersShared(t *testing.T) {
	ForgetRecoveredSenders()
	k1 := testKey(t, 1)
	tx := signedTestTx(t, k1)
	key := senderKey{signingHash: tx.SigningHash()}
	copy(key.sig[:], tx.Sig)
	if recovered.Contains(key) {
		t.Fatal("cache not empty after ForgetRecoveredSenders")
	}
	if _, err := tx.Sender(); err != nil {
		t.Fatal(err)
	}
	if !recovered.Contains(key) {
		t.Fatal("a recovered sender is not shared")
	}
	enc, _ := rlp.EncodeToBytes(tx)
	var dec Tx
	if err := rlp.DecodeBytes(enc, &dec); err != nil {
		t.Fatal(err)
	}
	if from, err := dec.Sender(); err != nil || from != crypto.PubkeyToAddress(k1.PublicKey) {
		t.Fatalf("decoded copy: %s, %v", from, err)
	}
	// The same tx with its recovery id flipped recovers another key (or
	// none): the cache must not answer for it.
	m := &Tx{ChainID: dec.ChainID, Nonce: dec.Nonce, To: dec.To, Value: dec.Value, Fee: dec.Fee,
		Sig: append([]byte(nil), dec.Sig...)}
	m.Sig[64] ^= 1
	if from, err := m.Sender(); err == nil && from == crypto.PubkeyToAddress(k1.PublicKey) {
		t.Fatal("a changed signature was answered from the cache")
	}
}
