module github.com/vigil-oss/vigil

go 1.26.8
