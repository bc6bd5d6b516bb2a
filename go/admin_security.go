package odradek

/*
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include "odradek.h"
*/
import "C"

import (
	"context"
	"fmt"
	"unsafe"
)

// ACLResourceType is what an ACL guards (Kafka's codes).
type ACLResourceType int8

// ACL resource types; ACLResourceAny only in filters.
const (
	ACLResourceAny             ACLResourceType = C.ODRADEK_ACL_RESOURCE_ANY
	ACLResourceTopic           ACLResourceType = C.ODRADEK_ACL_RESOURCE_TOPIC
	ACLResourceGroup           ACLResourceType = C.ODRADEK_ACL_RESOURCE_GROUP
	ACLResourceCluster         ACLResourceType = C.ODRADEK_ACL_RESOURCE_CLUSTER
	ACLResourceTransactionalID ACLResourceType = C.ODRADEK_ACL_RESOURCE_TRANSACTIONAL_ID
)

// ACLPattern says how an ACL's resource name matches (Kafka's codes).
type ACLPattern int8

// ACL pattern types; ACLPatternAny and ACLPatternMatch only in filters.
const (
	ACLPatternAny      ACLPattern = C.ODRADEK_ACL_PATTERN_ANY
	ACLPatternMatch    ACLPattern = C.ODRADEK_ACL_PATTERN_MATCH
	ACLPatternLiteral  ACLPattern = C.ODRADEK_ACL_PATTERN_LITERAL
	ACLPatternPrefixed ACLPattern = C.ODRADEK_ACL_PATTERN_PREFIXED
)

// ACLOperation is the operation an ACL allows or denies (Kafka's codes; 9 ClusterAction,
// 10 DescribeConfigs, 11 AlterConfigs, 12 IdempotentWrite are valid too).
type ACLOperation int8

// ACL operations; ACLOperationAny only in filters.
const (
	ACLOperationAny      ACLOperation = C.ODRADEK_ACL_OPERATION_ANY
	ACLOperationAll      ACLOperation = C.ODRADEK_ACL_OPERATION_ALL
	ACLOperationRead     ACLOperation = C.ODRADEK_ACL_OPERATION_READ
	ACLOperationWrite    ACLOperation = C.ODRADEK_ACL_OPERATION_WRITE
	ACLOperationCreate   ACLOperation = C.ODRADEK_ACL_OPERATION_CREATE
	ACLOperationDelete   ACLOperation = C.ODRADEK_ACL_OPERATION_DELETE
	ACLOperationAlter    ACLOperation = C.ODRADEK_ACL_OPERATION_ALTER
	ACLOperationDescribe ACLOperation = C.ODRADEK_ACL_OPERATION_DESCRIBE
)

// ACLPermission allows or denies (Kafka's codes).
type ACLPermission int8

// ACL permissions; ACLPermissionAny only in filters.
const (
	ACLPermissionAny   ACLPermission = C.ODRADEK_ACL_PERMISSION_ANY
	ACLPermissionDeny  ACLPermission = C.ODRADEK_ACL_PERMISSION_DENY
	ACLPermissionAllow ACLPermission = C.ODRADEK_ACL_PERMISSION_ALLOW
)

// ACL is one access rule: Principal ("User:alice", "User:*") from Host ("*": any) may or
// may not (Permission) do Operation on the resource.
type ACL struct {
	ResourceType ACLResourceType
	ResourceName string // the cluster's is "kafka-cluster"
	PatternType  ACLPattern
	Principal    string
	Host         string
	Operation    ACLOperation
	Permission   ACLPermission
}

// ACLFilter selects ACLs: an empty string matches any name, principal or host, and the *Any
// values (and ACLPatternMatch) any code.
type ACLFilter ACL

// ScramMechanism is a SCRAM mechanism (Kafka's codes).
type ScramMechanism int8

// SCRAM mechanisms.
const (
	ScramSHA256 ScramMechanism = C.ODRADEK_SCRAM_SHA_256
	ScramSHA512 ScramMechanism = C.ODRADEK_SCRAM_SHA_512
)

// UpsertSCRAM sets a user's SCRAM password. The password is salted and iterated in this
// process (Iterations in 4096..16384; 0 means 8192) and never reaches the broker; String and
// GoString leave it out.
type UpsertSCRAM struct {
	User       string
	Mechanism  ScramMechanism
	Password   string
	Iterations int32
}

// String describes the upsert without its password.
func (u UpsertSCRAM) String() string {
	return fmt.Sprintf("UpsertSCRAM{User:%s Mechanism:%d Password:[redacted] Iterations:%d}", u.User, u.Mechanism, u.Iterations)
}

// GoString is String, so %#v does not print the password either.
func (u UpsertSCRAM) GoString() string { return u.String() }

// DeleteSCRAM deletes a user's SCRAM credential for one mechanism.
type DeleteSCRAM struct {
	User      string
	Mechanism ScramMechanism
}

// DescribedUserSCRAM is one SCRAM credential of a user (never its password).
type DescribedUserSCRAM struct {
	User       string
	Mechanism  ScramMechanism
	Iterations int32
}

// cACLs is a C array of ACL bindings in C memory, freed by free().
type cACLs struct {
	arr  *C.OdradekAclBinding
	strs []*C.char
}

func newCACLs(acls []ACL, anyIfEmpty bool) *cACLs {
	c := &cACLs{}
	if len(acls) == 0 {
		return c
	}
	c.arr = (*C.OdradekAclBinding)(C.malloc(C.size_t(unsafe.Sizeof(C.OdradekAclBinding{})) * C.size_t(len(acls))))
	str := func(s string) *C.char {
		if s == "" && anyIfEmpty {
			return nil
		}
		cs := C.CString(s)
		c.strs = append(c.strs, cs)
		return cs
	}
	for i, a := range acls {
		unsafe.Slice(c.arr, len(acls))[i] = C.OdradekAclBinding{
			resource_type: C.int8_t(a.ResourceType), resource_name: str(a.ResourceName),
			pattern_type: C.int8_t(a.PatternType), principal: str(a.Principal), host: str(a.Host),
			operation: C.int8_t(a.Operation), permission: C.int8_t(a.Permission)}
	}
	return c
}

func (c *cACLs) free() {
	for _, s := range c.strs {
		C.free(unsafe.Pointer(s))
	}
	if c.arr != nil {
		C.free(unsafe.Pointer(c.arr))
	}
}

func filtersAsACLs(filters []ACLFilter) []ACL {
	out := make([]ACL, len(filters))
	for i, f := range filters {
		out[i] = ACL(f)
	}
	return out
}

// takeACLs copies and frees an array of ACLs the library returned.
func takeACLs(arr *C.OdradekAclBinding, n C.size_t) []ACL {
	defer C.odradek_acl_bindings_free(arr, n)
	var out []ACL
	for _, a := range unsafe.Slice(arr, int(n)) {
		out = append(out, ACL{ResourceType: ACLResourceType(a.resource_type), ResourceName: C.GoString(a.resource_name),
			PatternType: ACLPattern(a.pattern_type), Principal: C.GoString(a.principal), Host: C.GoString(a.host),
			Operation: ACLOperation(a.operation), Permission: ACLPermission(a.permission)})
	}
	return out
}

// CreateACLs creates ACLs; it fails with the first refusal (errors.Is(err, ...) with
// CLUSTER_AUTHORIZATION_FAILED, ...).
func (a *Admin) CreateACLs(ctx context.Context, acls ...ACL) error {
	return a.call(func(h *C.OdradekAdmin) error {
		ca := newCACLs(acls, false)
		defer ca.free()
		s := newCancelScope(ctx)
		return s.finish(ctx, takeError(C.odradek_admin_create_acls(h, ca.arr, C.size_t(len(acls)), s.timeout, s.token)))
	})
}

// DescribeACLs returns the ACLs filter matches.
func (a *Admin) DescribeACLs(ctx context.Context, filter ACLFilter) ([]ACL, error) {
	var out []ACL
	err := a.call(func(h *C.OdradekAdmin) error {
		ca := newCACLs([]ACL{ACL(filter)}, true)
		defer ca.free()
		var arr *C.OdradekAclBinding
		var n C.size_t
		s := newCancelScope(ctx)
		if err := s.finish(ctx, takeError(C.odradek_admin_describe_acls(h, ca.arr, s.timeout, s.token, &arr, &n))); err != nil {
			return err
		}
		out = takeACLs(arr, n)
		return nil
	})
	return out, err
}

// DeleteACLs deletes the ACLs the filters match and returns them.
func (a *Admin) DeleteACLs(ctx context.Context, filters ...ACLFilter) ([]ACL, error) {
	var out []ACL
	err := a.call(func(h *C.OdradekAdmin) error {
		ca := newCACLs(filtersAsACLs(filters), true)
		defer ca.free()
		var arr *C.OdradekAclBinding
		var n C.size_t
		s := newCancelScope(ctx)
		if err := s.finish(ctx, takeError(C.odradek_admin_delete_acls(h, ca.arr, C.size_t(len(filters)), s.timeout, s.token, &arr, &n))); err != nil {
			return err
		}
		out = takeACLs(arr, n)
		return nil
	})
	return out, err
}

// DescribeUserSCRAMs returns the SCRAM credentials of users (none given: every user), one
// entry per user and mechanism.
func (a *Admin) DescribeUserSCRAMs(ctx context.Context, users ...string) ([]DescribedUserSCRAM, error) {
	var out []DescribedUserSCRAM
	err := a.call(func(h *C.OdradekAdmin) error {
		cs := newCStrings(users)
		defer cs.free()
		var arr *C.OdradekScramCredential
		var n C.size_t
		s := newCancelScope(ctx)
		if err := s.finish(ctx, takeError(C.odradek_admin_describe_scram_credentials(h, cs.arr, C.size_t(len(users)), s.timeout, s.token, &arr, &n))); err != nil {
			return err
		}
		defer C.odradek_scram_credentials_free(arr, n)
		for _, c := range unsafe.Slice(arr, int(n)) {
			out = append(out, DescribedUserSCRAM{User: C.GoString(c.user), Mechanism: ScramMechanism(c.mechanism), Iterations: int32(c.iterations)})
		}
		return nil
	})
	return out, err
}

// AlterUserSCRAMs deletes and sets SCRAM credentials, deletions first; it stops at the first
// failure.
func (a *Admin) AlterUserSCRAMs(ctx context.Context, del []DeleteSCRAM, upsert []UpsertSCRAM) error {
	return a.call(func(h *C.OdradekAdmin) error {
		for _, d := range del {
			cu := C.CString(d.User)
			s := newCancelScope(ctx)
			err := s.finish(ctx, takeError(C.odradek_admin_delete_scram_credential(h, cu, C.int8_t(d.Mechanism), s.timeout, s.token)))
			C.free(unsafe.Pointer(cu))
			if err != nil {
				return err
			}
		}
		for _, u := range upsert {
			if err := upsertSCRAM(ctx, h, u); err != nil {
				return err
			}
		}
		return nil
	})
}

func upsertSCRAM(ctx context.Context, h *C.OdradekAdmin, u UpsertSCRAM) error {
	iterations := u.Iterations
	if iterations == 0 {
		iterations = 8192
	}
	cu, cp := C.CString(u.User), C.CString(u.Password)
	defer C.free(unsafe.Pointer(cu))
	defer func() {
		// The password's C copy is wiped before its memory goes back to the allocator.
		C.memset(unsafe.Pointer(cp), 0, C.strlen(cp))
		C.free(unsafe.Pointer(cp))
	}()
	s := newCancelScope(ctx)
	return s.finish(ctx, takeError(C.odradek_admin_upsert_scram_credential(h, cu, C.int8_t(u.Mechanism), cp, C.uint32_t(iterations), s.timeout, s.token)))
}
