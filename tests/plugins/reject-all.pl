#!/usr/bin/perl
# Test plugin: rejects every event with the message given as the first
# argument (default "not allowed here"); a message of "-" sends no msg key.
use strict;
use warnings;
use JSON::PP;

$| = 1;
my $msg = @ARGV ? $ARGV[0] : 'not allowed here';
my $json = JSON::PP->new->utf8->canonical;
while (my $line = <STDIN>) {
	my $req = $json->decode($line);
	my %res = (id => $req->{event}{id}, action => 'reject');
	$res{msg} = $msg if $msg ne '-';
	print $json->encode(\%res), "\n";
}
