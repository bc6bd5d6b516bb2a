module github.com/odradek/odradek/tests/crosslang/go

go 1.26.0

require github.com/odradek/odradek/go v0.0.0

replace github.com/odradek/odradek/go => ../../../go
