package node

import (
	"context"
	"reflect"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// Quern declares the `quern` namespace for clients: one field per API
// method, named as the method (the rpc package serves API.GetJob as
// quern_getJob) and typed with its params and answer. A client calls
// node.Quern.GetJob.Call(ctx, c, id) and gets a *RPCJob: the name and the
// types cannot drift from the server's, which TestQuernMethods checks
// against API. To add a method: write it on API, its answer type beside
// the others (api_types.go), and its field here.
var Quern = named(QuernMethods{}, "quern")

// QuernMethods is Quern's type.
type QuernMethods struct {
	BlockNumber          Method0[uint64]
	ChainId              Method0[uint64]
	GetBlockByNumber     Method1[BlockNumber, *RPCBlock]
	GetBlockByHash       Method1[common.Hash, *RPCBlock]
	GetBalance           Method1[common.Address, string] // wei, decimal
	GetTransactionCount  Method2[common.Address, *string, uint64]
	SendRawTransaction   Method1[hexutil.Bytes, common.Hash]
	GetTransactionStatus Method1[common.Hash, *RPCTxStatus]
	GetJob               Method1[common.Hash, *RPCJob]
	GetJobResult         Method1[common.Hash, *RPCJobResult]
	ListJobs             Method1[*RPCListJobsArgs, *RPCJobList]
	Syncing              Method0[RPCSyncState]
	NodeInfo             Method0[RPCNodeInfo]
	MinerRewards         Method1[common.Address, RPCRewards]
	JobBaseFee           Method2[uint64, *uint64, string] // wei, decimal
	JobLimits            Method0[RPCJobLimits]
	GetProof             Method3[common.Address, *[]common.Hash, *BlockNumber, *RPCProof]
}

// Caller sends one JSON-RPC call: an *rpc.Client, or a client of its own
// that adds timeouts and explains errors.
type Caller interface {
	CallContext(ctx context.Context, result any, method string, args ...any) error
}

// method is the name every MethodN carries.
type method struct{ name string }

// Name is the method's JSON-RPC name ("quern_getJob").
func (m method) Name() string { return m.name }

func (m *method) setName(name string) { m.name = name }

// Method0 is a method without params answering an R.
type Method0[R any] struct{ method }

func (m Method0[R]) Call(ctx context.Context, c Caller) (R, error) {
	var r R
	err := c.CallContext(ctx, &r, m.name)
	return r, err
}

func (Method0[R]) signature() ([]reflect.Type, reflect.Type) { return nil, reflect.TypeFor[R]() }

// Method1 is a method of one param A answering an R.
type Method1[A, R any] struct{ method }

func (m Method1[A, R]) Call(ctx context.Context, c Caller, a A) (R, error) {
	var r R
	err := c.CallContext(ctx, &r, m.name, a)
	return r, err
}

func (Method1[A, R]) signature() ([]reflect.Type, reflect.Type) {
	return []reflect.Type{reflect.TypeFor[A]()}, reflect.TypeFor[R]()
}

// Method2 is a method of params A and B answering an R.
type Method2[A, B, R any] struct{ method }

func (m Method2[A, B, R]) Call(ctx context.Context, c Caller, a A, b B) (R, error) {
	var r R
	err := c.CallContext(ctx, &r, m.name, a, b)
	return r, err
}

func (Method2[A, B, R]) signature() ([]reflect.Type, reflect.Type) {
	return []reflect.Type{reflect.TypeFor[A](), reflect.TypeFor[B]()}, reflect.TypeFor[R]()
}

// Method3 is a method of params A, B and C answering an R.
type Method3[A, B, C, R any] struct{ method }

func (m Method3[A, B, C, R]) Call(ctx context.Context, c Caller, a A, b B, cc C) (R, error) {
	var r R
	err := c.CallContext(ctx, &r, m.name, a, b, cc)
	return r, err
}

func (Method3[A, B, C, R]) signature() ([]reflect.Type, reflect.Type) {
	return []reflect.Type{reflect.TypeFor[A](), reflect.TypeFor[B](), reflect.TypeFor[C]()}, reflect.TypeFor[R]()
}

// named fills in the name of every method field of ms: namespace_ and the
// field's name with its first letter in lower case, as the rpc package
// names a receiver's methods.
func named[T any](ms T, namespace string) T {
	v := reflect.ValueOf(&ms).Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		v.Field(i).Addr().Interface().(interface{ setName(string) }).setName(namespace + "_" + strings.ToLower(f.Name[:1]) + f.Name[1:])
	}
	return ms
}
