module ferrotel.test/tlspeer

go 1.21
