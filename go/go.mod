module github.com/odradek/odradek/go

go 1.26.0
