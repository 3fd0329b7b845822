// Package config is the configuration of the Bulkhead agent: its fields and
// their defaults, loading from a YAML file, command-line overrides, and
// validation.
//
// Layering, lowest first: built-in defaults (Default), the YAML file
// (--config, default /etc/bulkhead/agent.yaml; a missing file at the
// default path means "no file"), then command-line flags, each of which is
// the same as "--set FIELD=VALUE" for one field. Decoding is strict: an
// unknown or duplicated field is an error naming its line; validation errors
// name the field ("limits.flows: must be > 0, got -1") and, when the value
// came from the file, its line.
//
// docs/agent.md documents every field; a test checks that it does.
package config
